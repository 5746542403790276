-- jsonb holds the values it describes. Until now the connection codec JSON-encoded text that
-- callers had already encoded, so each value was stored as one JSON string (jsonb_typeof =
-- 'string'), which -> and ->> cannot look into. Unwrap those strings into what they encode.
UPDATE api_keys SET attributes = (attributes #>> '{}')::jsonb
WHERE jsonb_typeof(attributes) = 'string';
