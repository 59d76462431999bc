/**
 * Which file holds a SOP Instance UID. Uploads store every capture, even other bytes under a UID
 * already stored (STOW-RS refuses those); DICOMweb serves one file per UID: the one indexed first
 * under it, by (indexed_at, xray_id), across all X-rays (not the caller's scope), decided at query
 * time, so deleting that X-ray hands the UID to the next file. Finalize indexes under a lock per
 * UID and reads the clock under it (dicomInstanceRepository.insert), so that order is the order
 * the rows commit in: a file served, and an upload told it holds the UID, is never displaced by
 * an upload that began earlier and committed later. An older X-ray indexed late (`xray-admin
 * dicom-index`) does not take a UID already served either. The same file stored for several
 * patients is that one file, under each. Other X-rays under the UID are only reachable through
 * REST, and say so (`Xray.dicomUidConflict`).
 */

/**
 * SQL: the id of the X-ray that holds `sopUid` (an SQL expression): the one indexed first under
 * it, one step of dicom_instances_sop_holder_idx however many X-rays share the UID. STOW-RS
 * compares a reuse with it: the file served.
 */
export const firstXrayUnder = (sopUid: string): string =>
  `(SELECT hd.xray_id FROM dicom_instances hd WHERE hd.sop_uid = ${sopUid} ORDER BY hd.indexed_at, hd.xray_id LIMIT 1)`;

/** SQL: the sha256 of that X-ray's file (and the xrays primary key). */
export const firstFileUnder = (sopUid: string): string =>
  `(SELECT h.sha256 FROM xrays h WHERE h.id = ${firstXrayUnder(sopUid)})`;

/**
 * SQL: the same sha256 as a window over `dicom_instances d JOIN xrays x` (the aliases it names),
 * for a statement over every instance (QIDO-RS): one sort instead of a lookup per row.
 */
export const FIRST_FILE_WINDOW = 'first_value(x.sha256) OVER (PARTITION BY d.sop_uid ORDER BY d.indexed_at, d.xray_id)';

/** SQL: the lock finalize takes (to its COMMIT) before indexing under `$1`, a SOP Instance UID. */
export const LOCK_SOP_UID = "SELECT pg_advisory_xact_lock(hashtextextended('dicom-sop:' || $1, 0))";

/**
 * SQL: whether X-ray `xray` (a row alias of xrays) is indexed under a SOP Instance UID another
 * file holds (a boolean expression). Looked up only for an X-ray whose UID another X-ray shares
 * (xrays.dicom_uid_shared, marked when the second is indexed): every other read costs nothing.
 */
export const dicomUidConflictOf = (xray: string): string =>
  `CASE WHEN ${xray}.dicom_uid_shared THEN EXISTS (SELECT 1 FROM dicom_instances cd WHERE cd.xray_id = ${xray}.id
            AND ${firstFileUnder('cd.sop_uid')} <> ${xray}.sha256) ELSE false END`;
