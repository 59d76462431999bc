-- Up Migration
-- A correction's free-text notes are named in its xray.updated event but their values are withheld
-- (packages/shared/src/schemas/events.ts, WITHHELD_FIELDS): events written before this release
-- lose them too.
UPDATE outbox_events
   SET payload = jsonb_set(payload, '{data,changes,notes}', '{"before": null, "after": null, "withheld": true}')
 WHERE payload->>'type' = 'xray.updated'
   AND payload #> '{data,changes}' ? 'notes';

-- Down Migration
-- Nothing to undo: the values removed are not recorded anywhere else in the outbox.
SELECT 1;
