-- Up Migration
-- A delivery's backoff restarts when its sink is back (src/events/outbox.relay.ts): once a
-- delivery to a sink succeeds after an outage, the deliveries that were waiting for that sink to
-- be reachable again are due at once, and their next failure waits the base delay again.
-- `backoff_from`: the attempt count at that restart (the backoff grows with attempts - backoff_from).
-- `last_unreachable`: the last failure was the sink not being there (refused, 502/503/429), not a
-- refusal of this event; only those are resumed, so an event a sink keeps refusing is never sped
-- up towards dead. `failures` (towards dead) is untouched.
ALTER TABLE outbox_deliveries
  ADD COLUMN backoff_from     integer NOT NULL DEFAULT 0,
  ADD COLUMN last_unreachable boolean NOT NULL DEFAULT false;

-- Down Migration
ALTER TABLE outbox_deliveries DROP COLUMN backoff_from, DROP COLUMN last_unreachable;
