-- Up Migration
-- A key check value per KEK id (src/keys/dek-wrap.ts): servers and `xray-admin rotate-kek`
-- compare the KEK they were given with it and refuse one that differs, so a mistyped key can
-- neither start a server nor re-wrap a single data key. Recorded the first time a KEK id is seen
-- (after it was checked against X-rays wrapped under it, if any); never updated.
CREATE TABLE kek_check_values (
  kek_id      text        PRIMARY KEY,
  check_value bytea       NOT NULL CHECK (octet_length(check_value) = 32),
  recorded_at timestamptz NOT NULL DEFAULT now()
);

-- A KEK rotation keeps each X-ray's previous wrap beside the new one until
-- `xray-admin rotate-kek --finish` has verified every new wrap; a replica that does not have the
-- new KEK yet reads through the previous one meanwhile.
ALTER TABLE xrays
  ADD COLUMN dek_wrapped_prev bytea,
  ADD COLUMN kek_id_prev      text,
  ADD CONSTRAINT xrays_prev_wrap_pair CHECK ((dek_wrapped_prev IS NULL) = (kek_id_prev IS NULL));
CREATE INDEX xrays_prev_wrap_idx ON xrays (id) WHERE dek_wrapped_prev IS NOT NULL;

-- Down Migration
DROP INDEX xrays_prev_wrap_idx;
ALTER TABLE xrays DROP CONSTRAINT xrays_prev_wrap_pair, DROP COLUMN dek_wrapped_prev, DROP COLUMN kek_id_prev;
DROP TABLE kek_check_values;
