import { createHash } from 'node:crypto';
import { firstString, VIEWS, type DcmjsDict, type XrayMetadataInput } from '@xray/shared';
import { DomainError } from '../errors.ts';
import { assertCaptureTimeNotAhead } from '../ingest/capture-time.ts';
import { parseMetadata } from '../ingest/ingest.service.ts';

/**
 * The rules that turn a STOW-RS instance's DICOM header into the metadata every door records
 * (there is no form to fill in: the file says it all). One place, unit-tested
 * (stow.metadata.test.ts):
 *
 * - `id`: derived from the SOP Instance UID (a name-based UUID, RFC 9562 v5), so storing the same
 *   instance again is the repeat of one X-ray, never a second one — even when two requests race.
 * - `patientId`: PatientID (0010,0020), required.
 * - `capturedAt`: the first present of AcquisitionDateTime (0008,002A); AcquisitionDate+Time;
 *   ContentDate+Time; StudyDate+Time (a date without a time is its midnight). The offset is the
 *   DT value's own, else TimezoneOffsetFromUTC (0008,0201), else UTC. None of them: refused.
 * - `bodyPart`: BodyPartExamined (0018,0015), `UNKNOWN` when absent.
 * - `view`: ViewPosition (0018,5101) when it is one of the views the API knows, `OBL` for the
 *   oblique terms (RAO, LAO, RLO, LLO…), otherwise `OTHER`.
 * - `priority`: `routine` (DICOM has no urgency a STOW-RS client could set).
 */

/** What identifies an instance in a STOW-RS response (any of it may be missing from a bad part). */
export interface StowSop {
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
}

export type StowRuleResult =
  | { ok: true; sop: StowSop; metadata: XrayMetadataInput & { id: string } }
  | { ok: false; sop: Partial<StowSop>; message: string };

const TAG = {
  sopClassUid: '00080016',
  sopInstanceUid: '00080018',
  studyInstanceUid: '0020000D',
  seriesInstanceUid: '0020000E',
  patientId: '00100020',
  acquisitionDateTime: '0008002A',
  acquisitionDate: '00080022',
  acquisitionTime: '00080032',
  contentDate: '00080023',
  contentTime: '00080033',
  studyDate: '00080020',
  studyTime: '00080030',
  timezoneOffset: '00080201',
  bodyPartExamined: '00180015',
  viewPosition: '00185101',
} as const;

/** DICOM UIDs (PS3.5 9.1): digits and dots, at most 64 characters. */
const UID = /^[0-9]+(\.[0-9]+)*$/;
const isUid = (v: string | undefined): v is string => v !== undefined && v.length <= 64 && UID.test(v);

/** Oblique View Position terms (PS3.3 C.8.11.5.1.1 and C.8.11.7): one view of the API. */
const OBLIQUE = new Set(['RAO', 'LAO', 'RPO', 'LPO', 'RLO', 'LLO', 'OBL', 'OBLIQUE']);
const LATERAL = new Set(['LAT', 'LATERAL', 'LL', 'RL']);

/** Namespace of the instance-derived X-ray ids (a fixed random UUID: ids of this service only). */
const SOP_NAMESPACE = Buffer.from('7a0c4f9e3b2d4e61a5d8c1f04b6e9d27', 'hex');

/** The X-ray id of a SOP Instance UID: a name-based UUID (RFC 9562 §5.5, version 5, SHA-1). */
export function xrayIdOfSopInstance(sopInstanceUid: string): string {
  const hash = createHash('sha1').update(SOP_NAMESPACE).update(sopInstanceUid, 'ascii').digest();
  const b = hash.subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A DICOM offset `+HHMM`/`-HHMM` as ISO 8601 (`+01:00`), or undefined when malformed. */
function isoOffset(v: string | undefined): string | undefined {
  const m = v === undefined ? null : /^([+-])(\d{2})(\d{2})$/.exec(v);
  if (!m) return undefined;
  const [, sign, hh, mm] = m;
  if (Number(hh) > 14 || Number(mm) > 59) return undefined;
  return `${sign}${hh}:${mm}`;
}

/**
 * A DICOM DA (+ TM) or DT value as an ISO 8601 instant, or undefined when it is not a valid one.
 * DT: `YYYYMMDD[HH[MM[SS[.F{1,6}]]]][&ZZXX]`; TM: `HH[MM[SS[.F{1,6}]]]` (the old `HH:MM:SS` too).
 */
export function dicomInstant(date: string, time: string | undefined, offset: string | undefined): string | undefined {
  let dt = date + (time ?? '').replace(/:/g, '');
  let zone = offset;
  const z = /([+-]\d{4})$/.exec(dt);
  if (z) {
    zone = z[1];
    dt = dt.slice(0, -5);
  }
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?)?)?$/.exec(dt);
  if (!m) return undefined;
  const [, y, mo, d, hh = '00', mi = '00', ss = '00', frac] = m;
  const iso = `${y}-${mo}-${d}T${hh}:${mi}:${ss}${frac ? `.${frac.padEnd(3, '0').slice(0, 3)}` : ''}`;
  const tz = zone === undefined ? 'Z' : isoOffset(zone);
  if (tz === undefined) return undefined;
  const ms = Date.parse(`${iso}${tz}`);
  // Date.parse rolls 2026-02-30 over to March: the fields must read back as given.
  if (Number.isNaN(ms) || Number(mo) > 12 || Number(d) > 31 || Number(hh) > 23 || Number(mi) > 59 || Number(ss) > 60)
    return undefined;
  const check = new Date(Date.parse(`${y}-${mo}-${d}T00:00:00Z`));
  if (check.getUTCDate() !== Number(d)) return undefined;
  return new Date(ms).toISOString();
}

/** The capture time by the rules above, and which attribute it came from; undefined when none is usable. */
export function captureTimeOf(dataset: DcmjsDict): { at: string; from: string } | undefined {
  const get = (tag: string) => firstString(dataset[tag]);
  const offset = get(TAG.timezoneOffset);
  const candidates: [string, string | undefined, string | undefined][] = [
    ['AcquisitionDateTime', get(TAG.acquisitionDateTime), undefined],
    ['AcquisitionDate', get(TAG.acquisitionDate), get(TAG.acquisitionTime)],
    ['ContentDate', get(TAG.contentDate), get(TAG.contentTime)],
    ['StudyDate', get(TAG.studyDate), get(TAG.studyTime)],
  ];
  for (const [from, date, time] of candidates) {
    if (date === undefined) continue;
    const at = dicomInstant(date, time, offset);
    if (at !== undefined) return { at, from };
  }
  return undefined;
}

function viewOf(position: string | undefined): XrayMetadataInput['view'] {
  const p = position?.toUpperCase();
  if (p === undefined) return 'OTHER';
  if ((VIEWS as readonly string[]).includes(p)) return p as XrayMetadataInput['view'];
  if (OBLIQUE.has(p)) return 'OBL';
  if (LATERAL.has(p)) return 'LAT';
  return 'OTHER';
}

/** The API field a metadata rule fills, as the DICOM attribute it came from (for the failure text). */
const SOURCE_OF: Record<string, string> = {
  'metadata.patientId': 'PatientID (0010,0020)',
  'metadata.capturedAt': 'the acquisition, content or study date and time',
  'metadata.bodyPart': 'BodyPartExamined (0018,0015)',
};

/**
 * The metadata of one instance from its header, or why it cannot be stored (FailureReason A900:
 * the data set lacks what every X-ray must have). `maxSkewMs`: CAPTURE_TIME_MAX_SKEW_MS.
 */
export function stowMetadataOf(dataset: DcmjsDict, maxSkewMs: number, now = Date.now()): StowRuleResult {
  const get = (tag: string) => firstString(dataset[tag]);
  const sop: Partial<StowSop> = {};
  const uids: [keyof StowSop, string, string][] = [
    ['sopClassUid', TAG.sopClassUid, 'SOPClassUID (0008,0016)'],
    ['sopInstanceUid', TAG.sopInstanceUid, 'SOPInstanceUID (0008,0018)'],
    ['studyInstanceUid', TAG.studyInstanceUid, 'StudyInstanceUID (0020,000D)'],
    ['seriesInstanceUid', TAG.seriesInstanceUid, 'SeriesInstanceUID (0020,000E)'],
  ];
  const missing: string[] = [];
  for (const [key, tag, name] of uids) {
    const v = get(tag)?.replace(/\0/g, '');
    if (isUid(v)) sop[key] = v;
    else missing.push(`${name} is ${v === undefined ? 'missing' : 'not a UID'}`);
  }
  const patientId = get(TAG.patientId);
  if (patientId === undefined) missing.push('PatientID (0010,0020) is missing');
  const capture = captureTimeOf(dataset);
  if (capture === undefined)
    missing.push(
      'no valid capture time: none of AcquisitionDateTime, AcquisitionDate, ContentDate, StudyDate (with their times)',
    );
  if (missing.length || patientId === undefined || capture === undefined)
    return { ok: false, sop, message: `The instance cannot be stored: ${missing.join('; ')}.` };

  const id = xrayIdOfSopInstance(sop.sopInstanceUid!);
  try {
    const metadata = parseMetadata({
      id,
      patientId,
      capturedAt: capture.at,
      bodyPart: get(TAG.bodyPartExamined) ?? 'UNKNOWN',
      view: viewOf(get(TAG.viewPosition)),
      priority: 'routine',
    });
    assertCaptureTimeNotAhead(metadata.capturedAt, maxSkewMs, now);
    return { ok: true, sop: sop as StowSop, metadata: { ...metadata, id } };
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    const fields = (err.fields ?? []).map((f) => `${SOURCE_OF[f.field] ?? f.field} ${f.message}`);
    return {
      ok: false,
      sop,
      message: `The instance cannot be stored: ${fields.length ? fields.join('; ') : err.message}.`,
    };
  }
}
