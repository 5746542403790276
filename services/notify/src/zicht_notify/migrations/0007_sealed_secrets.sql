-- Webhook secrets are kept sealed (encrypted and authenticated under notify's own key,
-- ZICHT_WEBHOOK_SECRET_KEYS), never in plain text. SQL cannot seal (the key never reaches
-- Postgres), so this makes room and marks what is left to do: a row with plain `secrets`
-- and no `sealed_secrets` is sealed by notify at its next start (NotifyService.reseal),
-- which empties `secrets` in the same transaction. No row loses its secrets on the way:
-- every row holds exactly one of the two at all times.
ALTER TABLE subscriptions ADD COLUMN sealed_secrets bytea;
ALTER TABLE subscriptions ADD COLUMN secrets_key_id text;
ALTER TABLE subscriptions ALTER COLUMN secrets DROP NOT NULL;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_secrets_sealed_or_plain CHECK (
    (sealed_secrets IS NULL) <> (secrets IS NULL)
    AND (sealed_secrets IS NULL) = (secrets_key_id IS NULL)
);
