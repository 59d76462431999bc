-- Up Migration
-- Appends a batch of audit events to the hash chain in one statement, so an append is one round
-- trip: inside a write's transaction, or on its own (autocommit) for reads, where the chain lock
-- is then held only while the statement runs and commits, never across a round trip.
--
-- `events` is a JSON array; each element holds the stored columns (actorSub, actorRoles, action,
-- xrayId, patientId, outcome, clientIp, userAgent, requestId, details) and `middle`: the
-- application's RFC 8785 canonical JSON of those same ten values, in that order, comma-separated
-- without the enclosing brackets. The id, the time and the previous hash are only known here,
-- under the lock; they are the first two and the last element of the hashed array, so the bytes
-- hashed are exactly those of src/audit/audit.hash.ts (canonicalAuditBytes, layout
-- xray-audit-v1): the id (digits), the ISO time and the hex hash need no JSON escaping.
-- `xray-admin verify-audit` recomputes every hash from the stored columns, so a `middle` that
-- disagreed with them would be reported as a break.
CREATE FUNCTION audit_append(events jsonb)
RETURNS TABLE (id text, at timestamptz, prev_hash text, hash text)
LANGUAGE plpgsql VOLATILE
-- The time is written in UTC whatever the caller's TimeZone: `x AT TIME ZONE 'UTC'` was seen to
-- shift by the session's offset under a POSIX-style TimeZone ('UTC+12') on PostgreSQL 18.
SET TimeZone = 'UTC'
AS $$
#variable_conflict use_column
DECLARE
  n      int := jsonb_array_length(events);
  ids    bigint[];
  t      timestamptz;
  iso    text;
  prev   text;
  prevs  text[] := '{}';
  hashes text[] := '{}';
BEGIN
  IF n < 1 THEN
    RAISE EXCEPTION 'audit_append needs at least one event';
  END IF;
  -- Under REPEATABLE READ or SERIALIZABLE the head below would be read with a snapshot taken
  -- before the lock was granted: a stale head, which audit_events_no_fork then refuses at random.
  -- Refused every time instead, with the reason (the application's pool sets READ COMMITTED).
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'audit_append needs READ COMMITTED, not %', current_setting('transaction_isolation')
      USING ERRCODE = 'invalid_transaction_state',
            HINT = 'Remove the default_transaction_isolation set on this database or role.';
  END IF;
  -- The key of CHAIN_LOCK_KEY in src/audit/audit.repository.ts. Held until the transaction ends.
  PERFORM pg_advisory_xact_lock(hashtextextended('xray:audit-chain', 0));
  -- Each statement below gets a snapshot taken after the lock was granted (READ COMMITTED, a
  -- VOLATILE function), so the head read is the append that held the lock before us.
  SELECT array_agg(s.v ORDER BY s.v) INTO ids
    FROM (SELECT nextval(pg_get_serial_sequence('audit_events', 'id')) AS v FROM generate_series(1, n)) s;
  t := date_trunc('milliseconds', clock_timestamp());
  iso := to_char(t, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
  SELECT a.hash INTO prev FROM audit_events a ORDER BY a.id DESC LIMIT 1;
  prev := coalesce(prev, repeat('0', 64));
  FOR i IN 1..n LOOP
    prevs[i] := prev;
    prev := encode(sha256(convert_to(
      '["xray-audit-v1","' || ids[i] || '","' || iso || '",' || (events -> (i - 1) ->> 'middle') || ',"' || prev || '"]',
      'UTF8')), 'hex');
    hashes[i] := prev;
  END LOOP;
  INSERT INTO audit_events (id, at, actor_sub, actor_roles, action, xray_id, patient_id, outcome,
                            client_ip, user_agent, request_id, details, prev_hash, hash)
  SELECT ids[e.o], t, e.v ->> 'actorSub',
         ARRAY(SELECT r.v FROM jsonb_array_elements_text(e.v -> 'actorRoles') WITH ORDINALITY AS r(v, o) ORDER BY r.o),
         e.v ->> 'action', (e.v ->> 'xrayId')::uuid, e.v ->> 'patientId', e.v ->> 'outcome',
         e.v ->> 'clientIp', e.v ->> 'userAgent', e.v ->> 'requestId', e.v -> 'details', prevs[e.o], hashes[e.o]
    FROM jsonb_array_elements(events) WITH ORDINALITY AS e(v, o);
  RETURN QUERY SELECT ids[k]::text, t, prevs[k], hashes[k] FROM generate_series(1, n) AS k;
END;
$$;

-- Down Migration
DROP FUNCTION audit_append(jsonb);
