-- Up Migration
-- Patient identity at ingest (src/ingest/identity.ts): whether the DICOM file's own PatientID,
-- PatientName, PatientBirthDate and PatientSex agree with the patient the X-ray is stored under.
-- The resource's `identity` as it is (status, the fields that differ with both values, what was
-- compared, the paramedic's override). A constant default: adding the column rewrites nothing.
ALTER TABLE xrays
  ADD COLUMN identity jsonb NOT NULL
    DEFAULT '{"status": "unknown", "fields": [], "compared": [], "reason": "not_checked", "overridden": false}';

-- Stored before this release: a PNG or JPEG names no patient (certain); a DICOM was not checked.
UPDATE xrays SET identity = '{"status": "unknown", "fields": [], "compared": [], "reason": "not_dicom", "overridden": false}'
 WHERE content_type <> 'application/dicom';

-- GET /xrays?identity=mismatch, in the list's own order.
CREATE INDEX xrays_identity_idx ON xrays ((identity->>'status'), captured_at DESC, id DESC);

-- Down Migration
DROP INDEX xrays_identity_idx;
ALTER TABLE xrays DROP COLUMN identity;
