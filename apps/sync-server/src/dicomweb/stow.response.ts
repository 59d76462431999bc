import type { ErrorCode } from '../errors.ts';
import type { StowSop } from './stow.metadata.ts';

/**
 * The Store Instances Response Module (PS3.18 Annex I) in DICOM JSON, and the HTTP status of a
 * STOW-RS answer (PS3.18 10.5.3): 200 when every instance is stored, 202 when some failed, 409
 * when none could be stored.
 */

/** Failure Reason (0008,1197) values (PS3.18 Table I.2-2; 0111H is PS3.7's duplicate SOP instance). */
export const FAILURE_REASON = {
  /** A7xx Refused: out of resources (the instance is larger than MAX_UPLOAD_BYTES). */
  outOfResources: 0xa700,
  /** A9xx The data set does not match what is required (attributes missing, another study). */
  dataSetMismatch: 0xa900,
  /** Cxxx Cannot understand (not DICOM Part 10, a damaged file). */
  cannotUnderstand: 0xc000,
  /** C122 Referenced Transfer Syntax not supported. */
  transferSyntax: 0xc122,
  /** 0110 Processing failure. */
  processing: 0x0110,
  /** 0111 Duplicate SOP Instance: another instance with this UID (other bytes, or another's) is stored. */
  duplicate: 0x0111,
} as const;
export type FailureReason = (typeof FAILURE_REASON)[keyof typeof FAILURE_REASON];

/** The Failure Reason of an instance refused with a catalogue code. */
export function failureReasonOf(code: ErrorCode): FailureReason {
  switch (code) {
    case 'payload_too_large':
      return FAILURE_REASON.outOfResources;
    case 'unsupported_media_type':
      return FAILURE_REASON.transferSyntax;
    case 'content_invalid':
    case 'checksum_mismatch':
      return FAILURE_REASON.cannotUnderstand;
    case 'validation_failed':
      return FAILURE_REASON.dataSetMismatch;
    case 'conflict':
      return FAILURE_REASON.duplicate;
    default:
      return FAILURE_REASON.processing;
  }
}

/** What became of one part of the request. */
export type StowOutcome =
  | { sop: StowSop; stored: { xrayId: string; repeat: boolean } }
  | { sop: Partial<StowSop>; failed: { reason: FailureReason; message: string } };

type DicomJsonValue = { vr: string; Value?: unknown[] };
type DicomJsonDataset = Record<string, DicomJsonValue>;

const ui = (v: string | undefined): DicomJsonValue => (v ? { vr: 'UI', Value: [v] } : { vr: 'UI' });
const ur = (v: string): DicomJsonValue => ({ vr: 'UR', Value: [v] });

/** `Warning: 299 - "…"` (RFC 9111 5.5, as PS3.18 8.6.3 uses it): the text as an ASCII quoted-string. */
export const warningHeader = (text: string): string =>
  `299 - "${text
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/["\\]/g, '\\$&')
    .slice(0, 400)}"`;

/** Warning headers in one answer, at most (then one saying how many more). */
const MAX_WARNINGS = 20;

export interface StowAnswer {
  status: 200 | 202 | 409;
  body: DicomJsonDataset;
  /** One Warning header value per repeat and per failure, naming the instance. */
  warnings: string[];
}

/**
 * The answer to a request whose parts came out as `outcomes` (at least one). `origin` is where
 * retrieve URLs start (PUBLIC_URL or the request's own origin); `study` the path's study, if any.
 */
export function stowAnswer(outcomes: readonly StowOutcome[], origin: string, study: string | undefined): StowAnswer {
  const base = `${origin.replace(/\/+$/, '')}/dicom-web/studies`;
  const instanceUrl = (s: StowSop) =>
    `${base}/${s.studyInstanceUid}/series/${s.seriesInstanceUid}/instances/${s.sopInstanceUid}`;
  const referenced: DicomJsonDataset[] = [];
  const failed: DicomJsonDataset[] = [];
  const warnings: string[] = [];
  const studies = new Set<string>();
  for (const o of outcomes) {
    if ('stored' in o) {
      studies.add(o.sop.studyInstanceUid);
      referenced.push({
        '00081150': ui(o.sop.sopClassUid),
        '00081155': ui(o.sop.sopInstanceUid),
        '00081190': ur(instanceUrl(o.sop)),
      });
      if (o.stored.repeat)
        warnings.push(warningHeader(`${o.sop.sopInstanceUid}: already stored with the same bytes; not stored again`));
    } else {
      failed.push({
        '00081150': ui(o.sop.sopClassUid),
        '00081155': ui(o.sop.sopInstanceUid),
        '00081197': { vr: 'US', Value: [o.failed.reason] },
      });
      warnings.push(
        warningHeader(
          `${o.sop.sopInstanceUid ?? 'a part'}: failure ${o.failed.reason.toString(16).toUpperCase().padStart(4, '0')}H: ${o.failed.message}`,
        ),
      );
    }
  }
  const body: DicomJsonDataset = {};
  // The study's URL when the stored instances are of one study (the path's, if it names one).
  const only = study ?? (studies.size === 1 ? [...studies][0] : undefined);
  if (only && referenced.length) body['00081190'] = ur(`${base}/${only}`);
  if (failed.length) body['00081198'] = { vr: 'SQ', Value: failed };
  if (referenced.length) body['00081199'] = { vr: 'SQ', Value: referenced };
  const status = failed.length === 0 ? 200 : referenced.length ? 202 : 409;
  // Headers stay small whatever the number of instances: the body lists every one anyway.
  if (warnings.length > MAX_WARNINGS)
    warnings.splice(
      MAX_WARNINGS,
      Infinity,
      warningHeader(`and ${warnings.length - MAX_WARNINGS} more instances failed or were stored already`),
    );
  return { status, body, warnings };
}
