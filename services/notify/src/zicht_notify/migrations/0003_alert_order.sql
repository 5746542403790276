-- The order alerts were made in (the order of their causes within a provider's partition),
-- and the alerts in flight per subscriber and provider, so a later alert waits behind an
-- earlier one still on its way.
ALTER TABLE alerts ADD COLUMN seq bigserial;
CREATE INDEX alerts_in_flight ON alerts (subscriber_kind, subscriber_id, provider_id, seq)
    WHERE state IN ('pending', 'retrying');
