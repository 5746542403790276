-- jsonb holds the values it describes (see runtime/0003_jsonb_objects.sql): unwrap the
-- documents the old codec stored as JSON strings.
UPDATE signals SET data = (data #>> '{}')::jsonb WHERE jsonb_typeof(data) = 'string';
UPDATE assessments SET context = (context #>> '{}')::jsonb
WHERE jsonb_typeof(context) = 'string';
UPDATE assessments SET decision = (decision #>> '{}')::jsonb
WHERE jsonb_typeof(decision) = 'string';
