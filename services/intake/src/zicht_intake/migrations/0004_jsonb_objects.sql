-- jsonb holds the values it describes (see runtime/0003_jsonb_objects.sql): unwrap the
-- documents the old codec stored as JSON strings. Signals waiting for a provider become
-- findable by the provider's KvK, AGB and postcode; intake's sweep releases them at start.
UPDATE signals SET draft = (draft #>> '{}')::jsonb WHERE jsonb_typeof(draft) = 'string';
UPDATE providers SET entry = (entry #>> '{}')::jsonb WHERE jsonb_typeof(entry) = 'string';
UPDATE submissions SET rejections = (rejections #>> '{}')::jsonb
WHERE jsonb_typeof(rejections) = 'string';
UPDATE submission_items SET rejections = (rejections #>> '{}')::jsonb
WHERE jsonb_typeof(rejections) = 'string';
UPDATE submission_items SET warnings = (warnings #>> '{}')::jsonb
WHERE jsonb_typeof(warnings) = 'string';
UPDATE signal_outcomes SET reasons = (reasons #>> '{}')::jsonb
WHERE jsonb_typeof(reasons) = 'string';
-- What the release looks up: waiting signals by the provider numbers they name.
CREATE INDEX IF NOT EXISTS signals_waiting_kvk ON signals ((draft -> 'provider' ->> 'kvk'))
    WHERE status = 'needs_provider';
