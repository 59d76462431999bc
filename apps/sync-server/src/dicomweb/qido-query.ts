import type { DicomReader, FieldError } from '@xray/shared';
import { DomainError } from '../errors.ts';

/**
 * A QIDO-RS query (PS3.18 8.3.4, PS3.4 C.2.2.2) read into what the index can match: each key
 * an index column with how its value matches. Pure: the SQL is the repository's.
 */

export type QidoLevel = 'study' | 'series' | 'instance';

/** The index columns a query may match on (dicom_instances). */
export type MatchColumn =
  | 'study_uid'
  | 'series_uid'
  | 'sop_uid'
  | 'sop_class_uid'
  | 'patient_id'
  | 'patient_name'
  | 'patient_birth_date'
  | 'patient_sex'
  | 'study_date'
  | 'study_time'
  | 'accession_number'
  | 'modality'
  | 'study_description'
  | 'series_description'
  | 'series_number'
  | 'instance_number'
  | 'referring_physician_name'
  | 'study_id';

export type Match =
  /** One of these values exactly (a UID list, a modality list, a single value). */
  | { column: MatchColumn; kind: 'any'; values: string[]; caseInsensitive: boolean }
  /** `*` and `?` wildcards, as a SQL LIKE pattern (escaped with `\`). */
  | { column: MatchColumn; kind: 'like'; pattern: string; caseInsensitive: boolean }
  /** A date or time range; either end may be open. */
  | { column: MatchColumn; kind: 'range'; from: string | null; to: string | null }
  | { column: MatchColumn; kind: 'integer'; value: number };

export interface QidoQuery {
  matches: Match[];
  limit: number;
  offset: number;
  /** Tags (8 upper-case hex digits) to return besides the level's own; `all`: every attribute of the header. */
  includefield: string[] | 'all';
  /** `fuzzymatching=true` was asked: not performed (a Warning says so). */
  fuzzyAsked: boolean;
  /** Attributes asked to match that the index does not match on: ignored (a Warning says so). */
  ignored: string[];
}

type Kind = 'uid' | 'text' | 'pn' | 'date' | 'time' | 'cs-list' | 'integer';

/** The attributes matched, by tag: their column and how their values match. */
const MATCHABLE: Readonly<Record<string, { column: MatchColumn; kind: Kind }>> = {
  '0020000D': { column: 'study_uid', kind: 'uid' },
  '0020000E': { column: 'series_uid', kind: 'uid' },
  '00080018': { column: 'sop_uid', kind: 'uid' },
  '00080016': { column: 'sop_class_uid', kind: 'uid' },
  '00100020': { column: 'patient_id', kind: 'text' },
  '00100010': { column: 'patient_name', kind: 'pn' },
  '00100030': { column: 'patient_birth_date', kind: 'date' },
  '00100040': { column: 'patient_sex', kind: 'text' },
  '00080020': { column: 'study_date', kind: 'date' },
  '00080030': { column: 'study_time', kind: 'time' },
  '00080050': { column: 'accession_number', kind: 'text' },
  // ModalitiesInStudy: a study with a series of one of these; Modality: a series of one of these.
  '00080061': { column: 'modality', kind: 'cs-list' },
  '00080060': { column: 'modality', kind: 'cs-list' },
  '00081030': { column: 'study_description', kind: 'text' },
  '0008103E': { column: 'series_description', kind: 'text' },
  '00200011': { column: 'series_number', kind: 'integer' },
  '00200013': { column: 'instance_number', kind: 'integer' },
  '00080090': { column: 'referring_physician_name', kind: 'pn' },
  '00200010': { column: 'study_id', kind: 'text' },
};

const CONTROL = new Set(['limit', 'offset', 'includefield', 'fuzzymatching']);
/** The most results one answer carries (and the default limit). */
export const QIDO_MAX_LIMIT = 1000;
const UID = /^[0-9.]{1,64}$/;
const DATE = /^\d{8}$/;
const TIME = /^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/;

/** `PatientName` or `00100010` → `00100010`; undefined when neither. */
export function tagOf(key: string, dicom: Pick<DicomReader, 'dicomTagOfKeyword'>): string | undefined {
  if (/^[0-9A-Fa-f]{8}$/.test(key)) return key.toUpperCase();
  return /^[A-Za-z][A-Za-z0-9]*$/.test(key) ? dicom.dicomTagOfKeyword(key) : undefined;
}

/** DICOM wildcards as a LIKE pattern: `*` any run, `?` one character; LIKE's own characters escaped. */
export const likePatternOf = (value: string): string =>
  value
    .replace(/[\\%_]/g, (c) => `\\${c}`)
    .replace(/\*/g, '%')
    .replace(/\?/g, '_');

function matchOf(tag: string, raw: string, errors: FieldError[], field: string): Match | undefined {
  const spec = MATCHABLE[tag];
  if (!spec) return undefined;
  const { column, kind } = spec;
  const bad = (message: string) => {
    errors.push({ field, message });
    return undefined;
  };
  const wildcard = /[*?]/.test(raw);
  switch (kind) {
    case 'uid': {
      const values = raw.split('\\');
      if (!values.every((v) => UID.test(v))) return bad('must be UIDs (digits and dots), several separated by `\\`');
      return { column, kind: 'any', values, caseInsensitive: false };
    }
    case 'cs-list': {
      const values = raw.split('\\').map((v) => v.trim());
      if (!values.every((v) => /^[A-Z0-9_ ]{1,16}$/.test(v))) return bad('must be modality codes separated by `\\`');
      return { column, kind: 'any', values, caseInsensitive: false };
    }
    case 'date':
    case 'time': {
      const format = kind === 'date' ? DATE : TIME;
      const what = kind === 'date' ? 'YYYYMMDD' : 'HHMMSS';
      const parts = raw.split('-');
      if (parts.length === 1) {
        if (!format.test(raw)) return bad(`must be ${what}, or a range \`a-b\`, \`-b\`, \`a-\``);
        return { column, kind: 'any', values: [raw], caseInsensitive: false };
      }
      const [from = '', to = ''] = parts;
      if (parts.length !== 2 || (from === '' && to === '') || (from && !format.test(from)) || (to && !format.test(to)))
        return bad(`must be ${what}, or a range \`a-b\`, \`-b\`, \`a-\``);
      if (from && to && from > to) return bad('the range ends before it starts');
      // A time's upper bound includes the whole of its last unit (PS3.4 C.2.2.2.5.1): `-0900` is
      // up to 09:00:59.999999, so the stored `090000` is in it (as text it sorts after `0900`).
      const upper = kind === 'time' && to ? `${to}${'995959.999999'.slice(to.length)}` : to;
      return { column, kind: 'range', from: from || null, to: upper || null };
    }
    case 'integer': {
      if (!/^[+-]?\d{1,9}$/.test(raw.trim())) return bad('must be an integer');
      return { column, kind: 'integer', value: Number(raw.trim()) };
    }
    case 'text':
    case 'pn': {
      // Person names match whatever their case, as Orthanc matches them; other strings exactly.
      const caseInsensitive = kind === 'pn';
      if (/\p{Cc}/u.test(raw)) return bad('must not hold control characters');
      // The longest value a DICOM string holds (a person name's three groups of 64): a longer one matches nothing.
      if (raw.length > 324) return bad('is longer than any DICOM value (324 characters)');
      return wildcard
        ? { column, kind: 'like', pattern: likePatternOf(raw), caseInsensitive }
        : { column, kind: 'any', values: [raw], caseInsensitive };
    }
  }
}

/**
 * Reads the query string's pairs (as sent: `URLSearchParams`, repeated keys kept). Throws 400
 * `validation_failed` naming each bad parameter.
 */
export function parseQidoQuery(params: URLSearchParams, dicom: Pick<DicomReader, 'dicomTagOfKeyword'>): QidoQuery {
  const errors: FieldError[] = [];
  const matches: Match[] = [];
  const ignored: string[] = [];
  const seen = new Set<string>();
  let limit = QIDO_MAX_LIMIT;
  let offset = 0;
  let includefield: string[] | 'all' = [];
  let fuzzyAsked = false;
  const count = (key: string, raw: string, max: number): number | undefined => {
    if (!/^\d{1,10}$/.test(raw) || Number(raw) > max) {
      errors.push({ field: key, message: `must be an integer from 0 to ${max}` });
      return undefined;
    }
    return Number(raw);
  };
  for (const [key, raw] of params) {
    if (CONTROL.has(key)) {
      if (key === 'includefield') {
        for (const item of raw
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)) {
          if (item === 'all') includefield = 'all';
          else {
            const tag = tagOf(item, dicom);
            if (!tag)
              errors.push({ field: 'includefield', message: `"${item.slice(0, 64)}" is no DICOM keyword or tag` });
            else if (includefield !== 'all') includefield.push(tag);
          }
        }
        continue;
      }
      if (seen.has(key)) {
        errors.push({ field: key, message: 'is given more than once' });
        continue;
      }
      seen.add(key);
      if (key === 'limit') limit = count(key, raw, QIDO_MAX_LIMIT) ?? limit;
      else if (key === 'offset') offset = count(key, raw, 2 ** 31 - 1) ?? offset;
      else if (raw === 'true') fuzzyAsked = true;
      else if (raw !== 'false') errors.push({ field: key, message: 'must be `true` or `false`' });
      continue;
    }
    const tag = tagOf(key, dicom);
    if (!tag) {
      errors.push({
        field: key.slice(0, 64),
        message: 'is no DICOM attribute (keyword or tag) nor a QIDO-RS parameter',
      });
      continue;
    }
    if (seen.has(tag)) {
      errors.push({ field: key, message: 'is given more than once' });
      continue;
    }
    seen.add(tag);
    // An empty value is universal matching: every value matches (PS3.4 C.2.2.2.3); `*` too.
    if (raw === '' || raw === '*') continue;
    if (!MATCHABLE[tag]) {
      ignored.push(key);
      continue;
    }
    const m = matchOf(tag, raw, errors, key);
    if (m) matches.push(m);
  }
  if (errors.length) throw new DomainError('validation_failed', 'The query has invalid parameters.', errors);
  return { matches, limit, offset, includefield, fuzzyAsked, ignored };
}
