-- jsonb holds the values it describes (see runtime/0003_jsonb_objects.sql): unwrap the
-- values the old codec stored as JSON strings (an indicator's 0.12 was the string "0.12").
UPDATE indicator_readings SET value = (value #>> '{}')::jsonb
WHERE jsonb_typeof(value) = 'string';
UPDATE risk SET contributions = (contributions #>> '{}')::jsonb
WHERE jsonb_typeof(contributions) = 'string';
UPDATE risk SET unknown_indicators = (unknown_indicators #>> '{}')::jsonb
WHERE jsonb_typeof(unknown_indicators) = 'string';
UPDATE risk_history SET contributions = (contributions #>> '{}')::jsonb
WHERE jsonb_typeof(contributions) = 'string';
