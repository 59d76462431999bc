-- Up Migration
-- Enrolled edge devices (ambulance tablets). A device is its DPoP key: the thumbprint (RFC 7638)
-- of the public key it proves possession of on every request. Revoking one refuses its requests
-- (401 device_revoked); wiped_at is set when the device reports that it crypto-shredded itself.
CREATE TABLE devices (
  id            uuid        PRIMARY KEY,
  name          text        NOT NULL,
  enrolled_by   text        NOT NULL,
  enrolled_at   timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  app_version   text,
  public_jwk    jsonb       NOT NULL,
  jkt           text        NOT NULL UNIQUE,
  revoked_at    timestamptz,
  revoked_by    text,
  revoke_reason text,
  wiped_at      timestamptz,
  wipe_report   jsonb
);

-- DPoP proof ids seen (RFC 9449 §11.1), shared by every instance: a proof is accepted once.
-- Rows are kept until the proof could no longer pass the iat window anyway.
CREATE TABLE dpop_proofs (
  jkt        text        NOT NULL,
  jti        text        NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (jkt, jti)
);
CREATE INDEX dpop_proofs_expiry_idx ON dpop_proofs (expires_at);

-- Which device began an upload, so revoking it ends its open uploads.
ALTER TABLE tus_uploads ADD COLUMN device_id uuid;
CREATE INDEX tus_uploads_device_open_idx ON tus_uploads (device_id) WHERE finalized_at IS NULL AND device_id IS NOT NULL;

-- Down Migration
DROP INDEX tus_uploads_device_open_idx;
ALTER TABLE tus_uploads DROP COLUMN device_id;
DROP TABLE dpop_proofs;
DROP TABLE devices;
