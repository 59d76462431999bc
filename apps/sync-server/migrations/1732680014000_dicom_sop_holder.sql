-- Up Migration
-- Which file DICOMweb serves under a SOP Instance UID (src/dicomweb/sop-uid-holder.ts): the X-ray
-- indexed first under it, by (indexed_at, xray_id). Finalize indexes under a lock per UID with
-- the clock read under it, so that order is the order the rows commit in; this index finds the
-- holder in one step however many files share a UID (it also serves every lookup by sop_uid).
CREATE INDEX dicom_instances_sop_holder_idx ON dicom_instances (sop_uid, indexed_at, xray_id);
DROP INDEX dicom_instances_sop_idx;

-- Down Migration
CREATE INDEX dicom_instances_sop_idx ON dicom_instances (sop_uid);
DROP INDEX dicom_instances_sop_holder_idx;
