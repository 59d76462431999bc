-- Up Migration
-- Events carry ids, not patient demographics: the link's patient and consultation summaries
-- (names, birth dates) are no longer part of an event (packages/shared/src/schemas/events.ts).
-- Events written before this release, pending, dead or delivered and not yet pruned, lose them too.
UPDATE outbox_events
   SET payload = payload #- '{data,xray,link,patient}' #- '{data,xray,link,consultation}' #- '{data,xray,link,decision}'
 WHERE payload #> '{data,xray,link}' ?| array['patient', 'consultation', 'decision'];

-- Down Migration
-- Nothing to undo: the summaries removed are not recorded anywhere else in the outbox.
SELECT 1;
