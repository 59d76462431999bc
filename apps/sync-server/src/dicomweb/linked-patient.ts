import { dicomStringOf, otherIssuer, type DicomJsonAttribute, type DicomJsonDataset } from '@xray/shared';
import { textOf } from './dicom-index.ts';

/**
 * DICOMweb shows the patient the service linked the X-ray to (its `patientId`, as the REST API
 * does), not the file's own PatientID: a viewer must never file an image under the patient the
 * modality wrote when the link (metadata, Patient Service, a doctor's correction) says otherwise.
 * The file's value is kept in OtherPatientIDsSequence so nothing is hidden. A file whose
 * IssuerOfPatientID names another assigning authority than the hospital's (PATIENT_ID_ISSUER,
 * @xray/shared otherIssuer) names another hospital's patient even when its PatientID reads as
 * ours: it is corrected the same way. The stored bytes (WADO-RS retrieve) stay the original file.
 */

const PATIENT_ID = '00100020';
const ISSUER = '00100021';
const OTHER_PATIENT_IDS = '00101002';

/** The X-ray's link as DICOMweb needs it: its patient and the identity check's status. */
export interface LinkedPatient {
  patientId: string;
  identityStatus: string;
}

/**
 * Whether the file's PatientID is not the linked patient's (DICOMweb then shows the linked one):
 * another id, or one issued by another assigning authority than `issuer` (PATIENT_ID_ISSUER;
 * undefined: not configured, the id alone counts).
 */
export const isCorrected = (header: DicomJsonDataset, linked: LinkedPatient, issuer: string | undefined): boolean =>
  textOf(header, PATIENT_ID) !== linked.patientId || otherIssuer(issuerOf(header), issuer);

/** The file's IssuerOfPatientID as ingest records it (every value, `HOSPITAL-A\CLINIC-B` counts too). */
const issuerOf = (header: DicomJsonDataset): string | undefined => dicomStringOf(header[ISSUER]);

/**
 * The header with PatientID (0010,0020) the linked patient's; when the file's differed (isCorrected:
 * another id, or another authority's), the file's PatientID (and IssuerOfPatientID) appended to OtherPatientIDsSequence (0010,1002) and the
 * issuer dropped from the top level (it qualified the file's id, not ours).
 */
export function withLinkedPatient(
  header: DicomJsonDataset,
  linked: LinkedPatient,
  /** The hospital's assigning authority (PATIENT_ID_ISSUER); undefined: not configured. */
  issuer: string | undefined,
): { header: DicomJsonDataset; corrected: boolean } {
  if (!isCorrected(header, linked, issuer)) return { header, corrected: false };
  const out: DicomJsonDataset = { ...header, [PATIENT_ID]: { vr: 'LO', Value: [linked.patientId] } };
  const fileId = header[PATIENT_ID];
  if (fileId?.Value?.length) {
    const item: DicomJsonDataset = { [PATIENT_ID]: fileId };
    const issuer = header[ISSUER];
    if (issuer?.Value?.length) item[ISSUER] = issuer;
    const others: DicomJsonAttribute = header[OTHER_PATIENT_IDS] ?? { vr: 'SQ' };
    const listed = (others.Value ?? []) as unknown[];
    // A file that already lists its own pair there: kept as it is, not listed twice.
    const valuesOf = (d: DicomJsonDataset): string =>
      JSON.stringify([d[PATIENT_ID]?.Value ?? [], d[ISSUER]?.Value ?? []]);
    const already = listed.some(
      (o) => typeof o === 'object' && o !== null && valuesOf(o as DicomJsonDataset) === valuesOf(item),
    );
    out[OTHER_PATIENT_IDS] = { vr: 'SQ', Value: already ? listed : [...listed, item] };
  }
  delete out[ISSUER];
  return {
    header: Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    corrected: true,
  };
}

/** The Warning texts for an answer: PatientIDs replaced, identities that disagree with their link. */
export function identityWarnings(corrected: number, mismatched: number, what: string): string[] {
  return [
    ...(corrected
      ? [
          `Patient corrected: PatientID of ${corrected} ${what} overridden with the patient the service linked the X-ray to; the file's own PatientID (if it had one) is in OtherPatientIDsSequence (0010,1002).`,
        ]
      : []),
    ...(mismatched
      ? [
          `Patient identity status mismatch for ${mismatched} ${what}: the file's patient attributes (PatientName, PatientBirthDate, PatientSex, or the IssuerOfPatientID of its PatientID, as in the file) disagree with the linked patient; see GET /xrays/{id} identity.`,
        ]
      : []),
  ];
}
