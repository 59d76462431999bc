-- Up Migration
CREATE TABLE xrays (
  id               uuid PRIMARY KEY,
  patient_id       text        NOT NULL,
  consultation_id  text,
  captured_at      timestamptz NOT NULL,
  captured_by_sub  text        NOT NULL,
  captured_by_name text,
  device_id        text,
  body_part        text        NOT NULL,
  view             text        NOT NULL,
  priority         text        NOT NULL CHECK (priority IN ('routine', 'urgent')),
  notes            text,
  content_type     text        NOT NULL,
  size_bytes       bigint      NOT NULL CHECK (size_bytes >= 0),
  sha256           char(64)    NOT NULL,
  dicom            jsonb,
  link             jsonb       NOT NULL DEFAULT '{"status":"unchecked"}',
  object_key       text        NOT NULL UNIQUE,
  uploaded_at      timestamptz NOT NULL DEFAULT now()
);
-- Listing is newest capture first, filtered by patient or consultation; (captured_at, id) is the cursor.
CREATE INDEX xrays_patient_idx ON xrays (patient_id, captured_at DESC, id DESC);
CREATE INDEX xrays_consultation_idx ON xrays (consultation_id, captured_at DESC, id DESC) WHERE consultation_id IS NOT NULL;
CREATE INDEX xrays_captured_idx ON xrays (captured_at DESC, id DESC);

-- Down Migration
DROP TABLE xrays;
