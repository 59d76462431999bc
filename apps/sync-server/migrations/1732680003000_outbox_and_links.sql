-- Up Migration
-- Transactional outbox: an event is inserted in the same transaction as the change it reports
-- (src/events/outbox.repository.ts), then delivered at least once by the OutboxRelay that runs on
-- every instance. `id` is the event id receivers de-duplicate on; `seq` orders events.
-- No foreign key to xrays: xray.deleted outlives its X-ray.
CREATE TABLE outbox_events (
  id         uuid        PRIMARY KEY,
  seq        bigserial   NOT NULL UNIQUE,
  type       text        NOT NULL,
  xray_id    uuid,
  payload    jsonb       NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_events_xray_idx ON outbox_events (xray_id, seq);

-- One row per event and sink (webhook, amqp), so a failing sink never makes the other resend.
-- A relay claims a due row (FOR UPDATE SKIP LOCKED) by pushing next_attempt_at past the end of
-- its attempt (the lease) and stamping claim_token; only the holder of that token may record
-- the outcome. claim_token is cleared when an attempt ends.
CREATE TABLE outbox_deliveries (
  event_id        uuid        NOT NULL REFERENCES outbox_events (id) ON DELETE CASCADE,
  sink            text        NOT NULL,
  state           text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts        integer     NOT NULL DEFAULT 0,
  -- Failed attempts the sink itself refused or left unanswered; an unreachable sink (refused
  -- connection, broker down) is an outage, not the event's fault, and does not count. Dead at N.
  failures        integer     NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  claim_token     uuid,
  claimed_by      text,
  last_attempt_at timestamptz,
  last_error      text,
  delivered_at    timestamptz,
  PRIMARY KEY (event_id, sink)
);
CREATE INDEX outbox_deliveries_due_idx ON outbox_deliveries (sink, next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_deliveries_dead_idx ON outbox_deliveries (event_id) WHERE state = 'dead';

-- Links the Patient Service could not confirm yet: link_recheck_at is set while link.status is
-- pending (the background checker's next turn, or the end of a running check's lease), else null.
ALTER TABLE xrays
  ADD COLUMN link_recheck_at timestamptz,
  ADD COLUMN link_attempts   integer NOT NULL DEFAULT 0;
CREATE INDEX xrays_link_recheck_idx ON xrays (link_recheck_at) WHERE link_recheck_at IS NOT NULL;

-- Down Migration
DROP INDEX xrays_link_recheck_idx;
ALTER TABLE xrays DROP COLUMN link_recheck_at, DROP COLUMN link_attempts;
DROP TABLE outbox_deliveries;
DROP TABLE outbox_events;
