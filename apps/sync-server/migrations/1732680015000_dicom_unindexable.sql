-- Up Migration
-- DICOM X-rays the DICOMweb index has no place for: their header names no study, series or
-- instance UID (src/dicomweb/dicom-index.ts indexEntryOf), as the backfill read it
-- (dicom-index.backfill.ts). Stored bytes never change, so the server's run at start
-- (dicom-index.at-start.ts) does not read them again at every start: uploads still store such
-- files, and each would otherwise be read, locked for and logged at every start for good.
-- `xray-admin dicom-index` reads and names them all the same. Removed with the X-ray.
CREATE TABLE dicom_unindexable (
  xray_id  uuid PRIMARY KEY REFERENCES xrays (id) ON DELETE CASCADE,
  found_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE dicom_unindexable;
