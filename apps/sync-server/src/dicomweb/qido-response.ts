import type { DicomJsonAttribute, DicomJsonDataset, DicomReader } from '@xray/shared';
import { publicHref } from '../http/public-url.ts';
import type { SearchHit } from './dicom-instance.repository.ts';
import { instancePath } from './dicom-index.ts';
import { DICOMWEB_BASE } from './dicomweb.operations.ts';
import { withLinkedPatient } from './linked-patient.ts';
import type { QidoLevel, QidoQuery } from './qido-query.ts';

/** The attributes each level returns (PS3.18 Table 10.6.3-3 to -5), besides includefield's. */
const STUDY_TAGS = [
  '00080020', // StudyDate
  '00080030', // StudyTime
  '00080050', // AccessionNumber
  '00080061', // ModalitiesInStudy (computed)
  '00080090', // ReferringPhysicianName
  '00081030', // StudyDescription
  '00081190', // RetrieveURL (computed)
  '00100010', // PatientName
  '00100020', // PatientID
  '00100030', // PatientBirthDate
  '00100040', // PatientSex
  '0020000D', // StudyInstanceUID
  '00200010', // StudyID
  '00201206', // NumberOfStudyRelatedSeries (computed)
  '00201208', // NumberOfStudyRelatedInstances (computed)
];
const SERIES_TAGS = [
  '00080060', // Modality
  '0008103E', // SeriesDescription
  '0020000E', // SeriesInstanceUID
  '00200011', // SeriesNumber
  '00201209', // NumberOfSeriesRelatedInstances (computed)
];
const INSTANCE_TAGS = [
  '00080016', // SOPClassUID
  '00080018', // SOPInstanceUID
  '00083002', // AvailableTransferSyntaxUID (computed)
  '00200013', // InstanceNumber
  '00280008', // NumberOfFrames
  '00280010', // Rows
  '00280011', // Columns
  '00280100', // BitsAllocated
];
/** Computed at a level; at the others they are not returned (they would describe another level). */
const STUDY_COMPUTED = new Set(['00080061', '00201206', '00201208']);

const uidOf = (h: DicomJsonDataset, tag: string): string => {
  const v = h[tag]?.Value?.[0];
  return typeof v === 'string' ? v : '';
};

/** A sequence item (attributes by tag), as DICOM JSON nests them. */
const isDataset = (v: unknown): v is DicomJsonDataset => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An attribute's BulkDataURI made a link a client follows (under PUBLIC_URL), in sequences too. */
export function withLinks(header: DicomJsonDataset, publicUrl: string | undefined): DicomJsonDataset {
  if (!publicUrl) return header;
  const link = (a: DicomJsonAttribute): DicomJsonAttribute => {
    if (a.BulkDataURI?.startsWith('/')) return { ...a, BulkDataURI: publicHref(publicUrl, a.BulkDataURI) };
    if (a.vr === 'SQ' && a.Value)
      return {
        ...a,
        Value: a.Value.map((item) => (isDataset(item) ? withLinks(item, publicUrl) : item)),
      };
    return a;
  };
  return Object.fromEntries(Object.entries(header).map(([tag, a]) => [tag, link(a)]));
}

/**
 * One QIDO-RS result as DICOM JSON: the level's attributes, the computed ones, then includefield's.
 * PatientID is the linked patient's; the file's own, when it differs (or another authority issued
 * it), in OtherPatientIDsSequence.
 */
export function qidoDataset(
  level: QidoLevel,
  hit: SearchHit,
  q: Pick<QidoQuery, 'includefield'>,
  publicUrl: string | undefined,
  dicom: Pick<DicomReader, 'dicomVrOf'>,
  /** The hospital's assigning authority (PATIENT_ID_ISSUER): another's file is corrected too (linked-patient.ts). */
  issuer?: string | undefined,
): DicomJsonDataset {
  const { header: h, corrected } = withLinkedPatient(hit.header, hit, issuer);
  const study = uidOf(h, '0020000D');
  const series = uidOf(h, '0020000E');
  const instance = uidOf(h, '00080018');
  const tags = [
    ...STUDY_TAGS,
    ...(level === 'study' ? [] : SERIES_TAGS),
    ...(level === 'instance' ? INSTANCE_TAGS : []),
  ];
  const out: DicomJsonDataset = {};
  for (const tag of tags) {
    if (level !== 'study' && STUDY_COMPUTED.has(tag)) continue;
    if (level === 'instance' && tag === '00201209') continue;
    const a = h[tag];
    out[tag] = a && !a.BulkDataURI ? a : { vr: dicom.dicomVrOf(tag) ?? 'UN' };
  }
  const retrieve =
    level === 'study'
      ? `${DICOMWEB_BASE}/studies/${study}`
      : level === 'series'
        ? `${DICOMWEB_BASE}/studies/${study}/series/${series}`
        : instancePath({ study, series, instance });
  out['00081190'] = { vr: 'UR', Value: [publicHref(publicUrl, retrieve)] };
  if (level === 'study') {
    out['00080061'] = hit.modalities.length ? { vr: 'CS', Value: [...hit.modalities].sort() } : { vr: 'CS' };
    out['00201206'] = { vr: 'IS', Value: [hit.seriesCount] };
    out['00201208'] = { vr: 'IS', Value: [hit.instanceCount] };
  } else if (level === 'series') {
    out['00201209'] = { vr: 'IS', Value: [hit.instanceCount] };
  } else {
    out['00083002'] = { vr: 'UI', Value: [hit.transferSyntaxUid] };
  }
  if (corrected && h['00101002']) out['00101002'] = h['00101002'];
  const extra = q.includefield === 'all' ? Object.keys(h).filter((t) => !h[t]?.BulkDataURI) : q.includefield;
  for (const tag of extra) {
    const a = h[tag];
    if (out[tag] === undefined && a && !a.BulkDataURI) out[tag] = a;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
