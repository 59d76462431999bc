-- Up Migration
-- Objects are XRE1 ciphertext; each X-ray's data key is stored wrapped by a KEK (AES-KW).
-- Rotation re-wraps dek_wrapped under another kek_id and never rewrites objects.
ALTER TABLE xrays
  ADD COLUMN dek_wrapped bytea NOT NULL,
  ADD COLUMN kek_id      text  NOT NULL,
  ADD COLUMN cipher_size bigint NOT NULL CHECK (cipher_size > 0);
CREATE INDEX xrays_kek_idx ON xrays (kek_id);

-- Down Migration
ALTER TABLE xrays DROP COLUMN dek_wrapped, DROP COLUMN kek_id, DROP COLUMN cipher_size;
