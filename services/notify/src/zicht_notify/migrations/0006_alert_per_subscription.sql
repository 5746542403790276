-- One alert per subscription per source event, not one per subscriber: each subscription of a
-- party gets what its own filters let through. A party with no subscription at all still gets
-- one undeliverable record per source event (subscription_id NULL), so NULLs count as equal.
-- Every existing row kept the old key (source event, subscriber), so it keeps the new one too.
ALTER TABLE alerts DROP CONSTRAINT alerts_source_event_id_subscriber_kind_subscriber_id_key;
ALTER TABLE alerts ADD CONSTRAINT alerts_one_per_subscription
    UNIQUE NULLS NOT DISTINCT (source_event_id, subscriber_kind, subscriber_id, subscription_id);

-- Order is kept per subscription: an alert waits behind an earlier one of the same
-- subscription about the same provider, never behind another subscription's (which may be
-- unverified, or pointing at an endpoint that is down).
DROP INDEX alerts_in_flight;
CREATE INDEX alerts_in_flight ON alerts (subscription_id, provider_id, seq)
    WHERE state IN ('pending', 'retrying');
