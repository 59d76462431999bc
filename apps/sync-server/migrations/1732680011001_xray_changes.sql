-- Up Migration
-- The change feed (GET /changes, GET /xrays?changedSince=): every change of an X-ray gets a
-- sequence number from one counter row, taken inside the change's own transaction (in
-- record_xray_change below). Its row lock is held until COMMIT, so writers take numbers one at a
-- time and commit in the order of their numbers: a reader that has seen everything up to N never
-- learns later of a change numbered N or less. Numbers are never below the microseconds clock, so
-- after a restore from a backup the feed goes on above every number handed out before it.
CREATE TABLE xray_change_counter (
  id       boolean PRIMARY KEY DEFAULT true CHECK (id),
  last_seq bigint  NOT NULL
);

-- One row per change, kept for good. A deletion is a tombstone: the id, its number, who deleted it
-- and whose capture it was (so a paramedic's scoped feed shows it), no patient data. It is also
-- what refuses a late upload of that id (410 xray_deleted): at most one per X-ray.
CREATE TABLE xray_changes (
  seq       bigint      PRIMARY KEY,
  xray_id   uuid        NOT NULL,
  kind      text        NOT NULL CHECK (kind IN ('created', 'updated', 'link_settled', 'deleted')),
  at        timestamptz NOT NULL DEFAULT now(),
  -- Who made the change; null for the server itself (a link settled in the background).
  actor_sub text,
  -- Who captured the X-ray (never changes): the scope of a paramedic's feed.
  owner_sub text        NOT NULL
);
CREATE UNIQUE INDEX xray_changes_tombstone_idx ON xray_changes (xray_id) WHERE kind = 'deleted';
CREATE INDEX xray_changes_owner_idx ON xray_changes (owner_sub, seq);

-- The X-ray's latest change (its ETag, and the order of GET /xrays?changedSince=).
ALTER TABLE xrays ADD COLUMN change_seq bigint;
CREATE INDEX xrays_uploaded_idx ON xrays (uploaded_at DESC, id DESC);

-- Backfill, in the order things happened: every stored X-ray as created at its upload time, and
-- every X-ray deleted before this release (from the audit trail) as a tombstone.
INSERT INTO xray_changes (seq, xray_id, kind, at, actor_sub, owner_sub)
SELECT row_number() OVER (ORDER BY at, xray_id), xray_id, kind, at, actor_sub, owner_sub
  FROM (
    SELECT id AS xray_id, 'created' AS kind, uploaded_at AS at, captured_by_sub AS actor_sub,
           captured_by_sub AS owner_sub
      FROM xrays
    UNION ALL
    (SELECT DISTINCT ON (a.xray_id) a.xray_id, 'deleted', a.at, a.actor_sub,
            coalesce(a.details->>'capturedBy', '')
       FROM audit_events a
      WHERE a.action = 'xray.delete' AND a.outcome = 'success' AND a.xray_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM xrays x WHERE x.id = a.xray_id)
      ORDER BY a.xray_id, a.id DESC)
  ) past;
UPDATE xrays x SET change_seq = c.seq FROM xray_changes c WHERE c.xray_id = x.id AND c.kind = 'created';
INSERT INTO xray_change_counter (last_seq) SELECT coalesce(max(seq), 0) FROM xray_changes;
-- Every stored X-ray now has its number; each change sets it before COMMIT (record_xray_change).
CREATE UNIQUE INDEX xrays_change_seq_idx ON xrays (change_seq);

-- One statement per change: the next number, the change row, the X-ray's change_seq; returns the
-- number. `at` is the clock when it was numbered (just before COMMIT, the counter held), not the
-- transaction's start (now()): it follows the numbers' order. VOLATILE, so each statement inside sees what committed before it ran: a creation that
-- waited for the counter behind a deletion of the same id sees that deletion's tombstone and is
-- refused (SQLSTATE XR410), even when the deletion committed while it waited. A deletion already
-- recorded (the same id deleted again after a restore) keeps its first tombstone.
CREATE FUNCTION record_xray_change(p_xray uuid, p_kind text, p_actor text, p_owner text) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  next_seq bigint;
BEGIN
  UPDATE xray_change_counter
     SET last_seq = greatest(last_seq + 1, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)
   RETURNING last_seq INTO next_seq;
  IF p_kind = 'created' AND EXISTS (SELECT 1 FROM xray_changes WHERE xray_id = p_xray AND kind = 'deleted') THEN
    RAISE EXCEPTION 'X-ray % was deleted: its id cannot be stored again', p_xray USING ERRCODE = 'XR410';
  END IF;
  IF p_kind = 'deleted' THEN
    INSERT INTO xray_changes (seq, xray_id, kind, at, actor_sub, owner_sub)
    VALUES (next_seq, p_xray, p_kind, clock_timestamp(), p_actor, p_owner)
    ON CONFLICT (xray_id) WHERE kind = 'deleted' DO NOTHING;
    IF NOT FOUND THEN
      SELECT seq INTO next_seq FROM xray_changes WHERE xray_id = p_xray AND kind = 'deleted';
    END IF;
  ELSE
    INSERT INTO xray_changes (seq, xray_id, kind, at, actor_sub, owner_sub)
    VALUES (next_seq, p_xray, p_kind, clock_timestamp(), p_actor, p_owner);
    UPDATE xrays SET change_seq = next_seq WHERE id = p_xray;
  END IF;
  RETURN next_seq;
END;
$$;

-- A safety net for writers that do not number their changes: the previous release during a
-- rolling upgrade or after a rollback to it (docs/operations.md, "Upgrading"). Deferred to COMMIT,
-- each looks whether its change was numbered in its transaction (this release always does so,
-- before COMMIT: then it only reads one row) and numbers it if not, so the feed misses nothing, no
-- committed X-ray is left without a number, a deletion always leaves its tombstone, and a deleted
-- id stored again by such a writer fails at COMMIT (XR410). Only changes of what the resource shows
-- count: not the background checker's bookkeeping, nor a KEK rotation's rewraps.
CREATE FUNCTION xray_change_safety_net() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF EXISTS (SELECT 1 FROM xrays WHERE id = NEW.id AND change_seq IS NULL) THEN
      PERFORM record_xray_change(NEW.id, 'created', NEW.captured_by_sub, NEW.captured_by_sub);
    END IF;
  ELSIF TG_OP = 'UPDATE' THEN
    IF EXISTS (SELECT 1 FROM xrays WHERE id = NEW.id AND change_seq IS NOT DISTINCT FROM OLD.change_seq) THEN
      PERFORM record_xray_change(NEW.id, 'updated', NULL, NEW.captured_by_sub);
    END IF;
  ELSIF NOT EXISTS (SELECT 1 FROM xray_changes WHERE xray_id = OLD.id AND kind = 'deleted') THEN
    PERFORM record_xray_change(OLD.id, 'deleted', NULL, OLD.captured_by_sub);
  END IF;
  RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER xrays_numbered_insert AFTER INSERT ON xrays
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION xray_change_safety_net();
CREATE CONSTRAINT TRIGGER xrays_numbered_update AFTER UPDATE ON xrays
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN ((OLD.patient_id, OLD.consultation_id, OLD.body_part, OLD.view, OLD.notes, OLD.link)
        IS DISTINCT FROM (NEW.patient_id, NEW.consultation_id, NEW.body_part, NEW.view, NEW.notes, NEW.link))
  EXECUTE FUNCTION xray_change_safety_net();
CREATE CONSTRAINT TRIGGER xrays_numbered_delete AFTER DELETE ON xrays
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION xray_change_safety_net();

-- Down Migration
DROP TRIGGER xrays_numbered_delete ON xrays;
DROP TRIGGER xrays_numbered_update ON xrays;
DROP TRIGGER xrays_numbered_insert ON xrays;
DROP FUNCTION xray_change_safety_net();
DROP FUNCTION record_xray_change(uuid, text, text, text);
DROP INDEX xrays_change_seq_idx;
DROP INDEX xrays_uploaded_idx;
ALTER TABLE xrays DROP COLUMN change_seq;
DROP TABLE xray_changes;
DROP TABLE xray_change_counter;
