-- A subscription carries alerts only once its callback is verified: a correctly signed test
-- delivery got a 2xx and the same delivery with a wrong signature a 4xx. Subscriptions made
-- before this check existed were already receiving alerts; they count as verified.
ALTER TABLE subscriptions ADD COLUMN verified_at timestamptz;
ALTER TABLE subscriptions ADD COLUMN verification jsonb;
UPDATE subscriptions SET verified_at = created_at;
