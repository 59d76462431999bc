import { firstString, toDicomJson, type DicomHeader, type DicomJsonDataset } from '@xray/shared';
import { storableJson } from '../audit/audit.hash.ts';
import type { PoolClient } from '../db/pool.ts';
import { dicomInstanceRepository } from './dicom-instance.repository.ts';
import { DICOMWEB_BASE } from './dicomweb.operations.ts';

/** The UIDs that name an instance in DICOMweb. */
export interface InstanceUids {
  study: string;
  series: string;
  instance: string;
}

/** What the index keeps of one DICOM X-ray (table dicom_instances). */
export interface DicomIndexEntry {
  studyUid: string;
  seriesUid: string;
  sopUid: string;
  sopClassUid: string | null;
  patientId: string | null;
  patientName: string | null;
  patientBirthDate: string | null;
  patientSex: string | null;
  studyDate: string | null;
  studyTime: string | null;
  accessionNumber: string | null;
  modality: string | null;
  studyDescription: string | null;
  seriesDescription: string | null;
  seriesNumber: number | null;
  instanceNumber: number | null;
  referringPhysicianName: string | null;
  studyId: string | null;
  rows: number | null;
  columns: number | null;
  transferSyntaxUid: string;
  /** DICOM JSON; bulk data by BulkDataURI, the instance's path (made absolute when served). */
  header: DicomJsonDataset;
  headerComplete: boolean;
}

/** The path of an instance's WADO-RS resource; relative to the server (publicHref makes it a link). */
export const instancePath = (u: InstanceUids): string =>
  `${DICOMWEB_BASE}/studies/${u.study}/series/${u.series}/instances/${u.instance}`;

const UID = /^[0-9.]{1,64}$/;

/** A person name as one string: its component groups joined by `=` (as extractDicomTags and Orthanc give it). */
function personName(v: unknown): string | null {
  if (typeof v !== 'object' || v === null) return null;
  const groups = ['Alphabetic', 'Ideographic', 'Phonetic'].map((k) => {
    const g: unknown = Reflect.get(v, k);
    return typeof g === 'string' ? g : '';
  });
  while (groups.length && groups[groups.length - 1] === '') groups.pop();
  return groups.join('=') || null;
}

/** Every value made storable (sequence items too); tags, VRs and BulkDataURIs are ours already. */
const storableDataset = (d: DicomJsonDataset): DicomJsonDataset =>
  Object.fromEntries(
    Object.entries(d).map(([tag, a]) => [tag, a.Value ? { ...a, Value: a.Value.map((v) => storableJson(v)) } : a]),
  );

/** The first value of an attribute as text (a person name whole), or null. */
export function textOf(header: DicomJsonDataset, tag: string): string | null {
  const a = header[tag];
  const v = a?.Value?.[0];
  if (a?.vr === 'PN') return personName(v);
  if (typeof v === 'number') return String(v);
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : null;
}

function integerOf(header: DicomJsonDataset, tag: string): number | null {
  const v = header[tag]?.Value?.[0];
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isSafeInteger(n) && Math.abs(n) <= 2 ** 31 - 1 ? n : null;
}

/**
 * The index entry of an instance's header (as the inspector read it from the header prefix), or
 * undefined when the file names no study, series or instance UID: such a file is stored and
 * served by the REST API, but has no place in DICOMweb.
 */
export function indexEntryOf(header: DicomHeader): DicomIndexEntry | undefined {
  const d = header.dataset;
  const uid = (tag: string) => {
    const v = firstString(d[tag]);
    return v !== undefined && UID.test(v) ? v : undefined;
  };
  const study = uid('0020000D');
  const series = uid('0020000E');
  const instance = uid('00080018');
  const transferSyntaxUid = firstString(header.meta['00020010']);
  if (!study || !series || !instance || !transferSyntaxUid) return undefined;
  // PostgreSQL takes no NUL (nor a lone surrogate) in text or jsonb: a file carrying one is still indexed.
  const json = storableDataset(toDicomJson(header, instancePath({ study, series, instance })));
  return {
    studyUid: study,
    seriesUid: series,
    sopUid: instance,
    sopClassUid: textOf(json, '00080016'),
    patientId: textOf(json, '00100020'),
    patientName: textOf(json, '00100010'),
    patientBirthDate: textOf(json, '00100030'),
    patientSex: textOf(json, '00100040'),
    studyDate: textOf(json, '00080020'),
    studyTime: textOf(json, '00080030'),
    accessionNumber: textOf(json, '00080050'),
    modality: textOf(json, '00080060'),
    studyDescription: textOf(json, '00081030'),
    seriesDescription: textOf(json, '0008103E'),
    seriesNumber: integerOf(json, '00200011'),
    instanceNumber: integerOf(json, '00200013'),
    referringPhysicianName: textOf(json, '00080090'),
    studyId: textOf(json, '00200010'),
    rows: integerOf(json, '00280010'),
    columns: integerOf(json, '00280011'),
    transferSyntaxUid,
    header: json,
    headerComplete: header.complete,
  };
}

/**
 * Indexes a stored DICOM X-ray for DICOMweb, from the header the inspector read: in finalize's
 * transaction (every door), so the X-ray and its index row commit together. No-op for a PNG or
 * JPEG, or a DICOM that names no study, series or instance. True when another file already
 * holds the SOP Instance UID (`Xray.dicomUidConflict`).
 */
export async function indexDicomInstance(
  db: PoolClient,
  xrayId: string,
  header: DicomHeader | null | undefined,
): Promise<boolean> {
  const entry = header ? indexEntryOf(header) : undefined;
  return entry ? (await dicomInstanceRepository.insert(db, xrayId, entry)).conflict : false;
}
