-- Up Migration
-- One row per tus upload: who may continue it, which X-ray it becomes, and whether it is done.
-- Answering HEAD after the final PATCH (a lost response) and re-creates with the same X-ray id
-- comes from here, not from the tus store, so any instance can answer.
CREATE TABLE tus_uploads (
  id            text PRIMARY KEY,
  xray_id       uuid        NOT NULL,
  owner_sub     text        NOT NULL,
  upload_length bigint      NOT NULL,
  object_key    text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  finalized_at  timestamptz
);
CREATE INDEX tus_uploads_xray_idx ON tus_uploads (xray_id);
CREATE INDEX tus_uploads_open_idx ON tus_uploads (created_at) WHERE finalized_at IS NULL;

-- Down Migration
DROP TABLE tus_uploads;
