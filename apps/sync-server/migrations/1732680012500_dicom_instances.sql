-- Up Migration
-- The DICOMweb instance index (src/dicomweb/dicom-instance.repository.ts): per DICOM X-ray, the
-- attributes QIDO-RS matches and returns, and its whole header as DICOM JSON (PS3.18 F.2, bulk
-- data by reference) so WADO-RS /metadata reads no object. Written by finalize with the X-ray,
-- removed with it (ON DELETE CASCADE). X-rays stored before: `xray-admin dicom-index`.
CREATE TABLE dicom_instances (
  xray_id                  uuid PRIMARY KEY REFERENCES xrays (id) ON DELETE CASCADE,
  study_uid                text    NOT NULL,
  series_uid               text    NOT NULL,
  sop_uid                  text    NOT NULL,
  sop_class_uid            text,
  patient_id               text,
  patient_name             text,
  patient_birth_date       text,
  patient_sex              text,
  study_date               text,
  study_time               text,
  accession_number         text,
  modality                 text,
  study_description        text,
  series_description       text,
  series_number            integer,
  instance_number          integer,
  referring_physician_name text,
  study_id                 text,
  rows                     integer,
  columns                  integer,
  transfer_syntax_uid      text    NOT NULL,
  -- The DICOM JSON header; false when it was longer than the prefix read at ingest (attributes past it missing).
  header                   jsonb   NOT NULL,
  header_complete          boolean NOT NULL,
  indexed_at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dicom_instances_study_idx ON dicom_instances (study_uid, series_uid);
CREATE INDEX dicom_instances_sop_idx ON dicom_instances (sop_uid);
CREATE INDEX dicom_instances_patient_idx ON dicom_instances (patient_id);
CREATE INDEX dicom_instances_study_date_idx ON dicom_instances (study_date);

-- Down Migration
DROP TABLE dicom_instances;
