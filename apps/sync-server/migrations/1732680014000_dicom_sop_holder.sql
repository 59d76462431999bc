-- Up Migration
-- Which file DICOMweb serves under a SOP Instance UID (src/dicomweb/sop-uid-holder.ts): the X-ray
-- indexed first under it, by (indexed_at, xray_id). Finalize indexes under a lock per UID with
-- the clock read under it, so that order is the order the rows commit in; this index finds the
-- holder in one step however many files share a UID (it also serves every lookup by sop_uid).
CREATE INDEX dicom_instances_sop_holder_idx ON dicom_instances (sop_uid, indexed_at, xray_id);
DROP INDEX dicom_instances_sop_idx;
-- Whether any other X-ray is indexed under this X-ray's SOP Instance UID (set by the index's
-- insert, never cleared): every read of an X-ray says whether another file holds its UID
-- (Xray.dicomUidConflict), and only these few X-rays need the holder looked up to say so.
ALTER TABLE xrays ADD COLUMN dicom_uid_shared boolean NOT NULL DEFAULT false;
UPDATE xrays SET dicom_uid_shared = true
 WHERE id IN (SELECT d.xray_id FROM dicom_instances d
               WHERE d.sop_uid IN (SELECT sop_uid FROM dicom_instances GROUP BY sop_uid HAVING count(*) > 1));

-- Down Migration
ALTER TABLE xrays DROP COLUMN dicom_uid_shared;
CREATE INDEX dicom_instances_sop_idx ON dicom_instances (sop_uid);
DROP INDEX dicom_instances_sop_holder_idx;
