-- The retry window runs from an alert's first delivery attempt, not from when it was made:
-- an alert that waited for its subscription's callback to be verified keeps its full window.
ALTER TABLE alerts ADD COLUMN first_attempt_at timestamptz;
UPDATE alerts SET first_attempt_at = created_at WHERE attempts > 0;
