-- Up Migration
-- The tamper-evident audit trail. Rows are only ever appended (src/audit/audit.service.ts),
-- one at a time under an advisory lock, each hashed over its own fields and the previous
-- row's hash; `xray-admin verify-audit` recomputes the chain.
-- No foreign key to xrays: the trail outlives the X-ray it describes.
CREATE TABLE audit_events (
  id          bigserial   PRIMARY KEY,
  at          timestamptz NOT NULL,
  actor_sub   text,
  actor_roles text[]      NOT NULL DEFAULT '{}',
  action      text        NOT NULL,
  xray_id     uuid,
  patient_id  text,
  outcome     text        NOT NULL CHECK (outcome IN ('success', 'denied', 'failed')),
  client_ip   text,
  user_agent  text,
  request_id  text,
  details     jsonb       NOT NULL DEFAULT '{}',
  prev_hash   char(64)    NOT NULL,
  hash        char(64)    NOT NULL UNIQUE,
  -- A second row chained to the same predecessor would be a fork: refuse it outright,
  -- whatever the application does.
  CONSTRAINT audit_events_no_fork UNIQUE (prev_hash)
);
-- GET /audit filters, each walked in id order (the cursor).
CREATE INDEX audit_events_xray_idx ON audit_events (xray_id, id) WHERE xray_id IS NOT NULL;
CREATE INDEX audit_events_patient_idx ON audit_events (patient_id, id) WHERE patient_id IS NOT NULL;
CREATE INDEX audit_events_actor_idx ON audit_events (actor_sub, id);
CREATE INDEX audit_events_action_idx ON audit_events (action, id);
CREATE INDEX audit_events_at_idx ON audit_events (at);

CREATE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'The audit trail can only be appended to.';
END;
$$;

CREATE TRIGGER audit_events_no_update_delete
  BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

CREATE TRIGGER audit_events_no_truncate
  BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- Down Migration
DROP TABLE audit_events;
DROP FUNCTION audit_events_append_only();
