import { z } from 'zod';
import { says } from './common.ts';

/**
 * What every text and date-time a client sends must satisfy, whichever door it comes through
 * (POST /xrays, PATCH /xrays/{id}, tus Upload-Metadata, query strings).
 *
 * Refused in text: C0 controls (NUL included), DEL and C1 controls; the Unicode line and
 * paragraph separators (U+2028, U+2029); the bidirectional embedding, override and isolate
 * controls and marks (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C), which make text
 * read differently from what is stored; invisible characters that hide text (zero-width space
 * U+200B, word joiner and invisible operators U+2060–U+206F, the byte order mark U+FEFF, the
 * interlinear annotation controls U+FFF9–U+FFFB, the tag characters U+E0000–U+E007F);
 * noncharacters (U+FDD0–U+FDEF, U+FFFE, U+FFFF); and lone UTF-16 surrogates, which cannot be
 * stored as UTF-8 and would be silently replaced. Zero-width (non-)joiners stay: Persian and
 * Indic scripts need them.
 * Multi-line text (`notes`) may also hold line feeds and tabs; a carriage return is refused like
 * any other control, so what is stored is what every reader shows.
 *
 * Written without the `u` flag so the OpenAPI document can state them as `pattern`s; lone
 * surrogates, which only a `u` pattern can name, are refused by a separate check.
 */
const BEYOND_C0 = String.raw`\x7F-\x9F\u061C\u200B\u200E\u200F\u2028\u2029\u202A-\u202E\u2060-\u206F\uFEFF\uFFF9-\uFFFB\uFDD0-\uFDEF\uFFFE\uFFFF`;
const SINGLE_LINE = new RegExp(String.raw`^[^\x00-\x1F${BEYOND_C0}]*$`);
/** The same without \t (0x09) and \n (0x0A). */
const MULTI_LINE = new RegExp(String.raw`^[^\x00-\x08\x0B-\x1F${BEYOND_C0}]*$`);
/** Lone surrogates, and the tag characters (U+E0000–U+E007F), which can carry hidden ASCII. */
const LONE_SURROGATE = /[\p{Cs}\u{E0000}-\u{E007F}]/u;

const NO_CONTROLS_MESSAGE =
  'must not contain control or invisible characters (NUL, line breaks, DEL, C1, bidi controls, zero-width space)';
const MULTI_LINE_MESSAGE = 'must not contain control characters other than line feeds (\\n) and tabs';

/** True when `s` holds none of the characters above (line feeds and tabs allowed when `multiLine`). */
const isCleanText = (s: string, multiLine = false): boolean =>
  (multiLine ? MULTI_LINE : SINGLE_LINE).test(s) && !LONE_SURROGATE.test(s);

/** Each character the single-line rule refuses, wherever it stands (lone surrogates and tag characters too). */
const REFUSED_ANYWHERE = new RegExp(String.raw`[\x00-\x1F${BEYOND_C0}]|[\p{Cs}\u{E0000}-\u{E007F}]`, 'gu');

/**
 * Text that never went through these rules (a DICOM file's own values), made safe to show: each
 * character they refuse replaced by U+FFFD, so `\u202EA-LATIPSOH\u202C` cannot read as HOSPITAL-A.
 */
export const showable = (text: string): string => text.replace(REFUSED_ANYWHERE, '\uFFFD');

/**
 * A single-line text field. Checked before any trimming, so a control character is refused
 * rather than trimmed away unseen.
 */
export const singleLineText = () =>
  z
    .string()
    .regex(SINGLE_LINE, NO_CONTROLS_MESSAGE)
    .refine((s) => !LONE_SURROGATE.test(s), NO_CONTROLS_MESSAGE);

/**
 * The same rule for a field whose own, stricter pattern is what the OpenAPI document should show
 * (an identifier, a code): a refinement, checked before trimming like the above.
 */
export const cleanString = () => z.string().refine((s) => isCleanText(s), NO_CONTROLS_MESSAGE);

/**
 * Characters that show nothing where a reason is read: default-ignorable code points (soft
 * hyphen, fillers), separators and format characters, combining marks on their own, and the
 * blank-looking letters (braille blank U+2800, Hangul fillers U+3164, U+FFA0, U+115F, U+1160).
 */
const UNSEEN = /[\p{Default_Ignorable_Code_Point}\p{Z}\p{Cf}\p{M}\u2800\u3164\uFFA0\u115F\u1160]/gu;

/**
 * A paramedic's reason for a decision a doctor will read (keeping a patient the file disagrees
 * with): single-line text of 3 to 200 characters, at least 3 of which can be seen. A reason of
 * fillers or blank-looking letters alone passes a length check and tells the doctor nothing.
 */
export const reasonText = () =>
  singleLineText()
    .trim()
    .min(3, 'must say why (at least 3 characters)')
    .max(200)
    .refine((s) => [...s.replace(UNSEEN, '')].length >= 3, 'must say why in characters a reader can see (at least 3)');

/** A multi-line text field (notes): line feeds and tabs allowed, other controls refused. */
export const multiLineText = () =>
  z
    .string()
    .regex(MULTI_LINE, MULTI_LINE_MESSAGE)
    .refine((s) => !LONE_SURROGATE.test(s), MULTI_LINE_MESSAGE);

/** The earliest date-time any field or filter takes: anything older is a typo or a probe, not an X-ray. */
export const EARLIEST_DATE_TIME = '1900-01-01T00:00:00Z';
const EARLIEST_MS = Date.parse(EARLIEST_DATE_TIME);
/** Real UTC offsets lie between −12:00 and +14:00; PostgreSQL refuses anything beyond ±15:59. */
const MAX_OFFSET_MINUTES = 14 * 60;
/** How far ahead of the server's clock a capture time may be: tablets' clocks drift. */
export const CAPTURE_CLOCK_SLACK_MS = 24 * 60 * 60 * 1000;

function offsetMinutes(v: string): number {
  const m = /([+-])(\d{2}):?(\d{2})$/.exec(v);
  return m ? Number(m[2]) * 60 + Number(m[3]) : 0;
}

/** An ISO 8601 date-time with offset, not before EARLIEST_DATE_TIME, with a real-world offset. */
export const boundedDateTime = () =>
  z.iso
    .datetime({ offset: true, ...says('must be an ISO 8601 date-time') })
    .refine((v) => offsetMinutes(v) <= MAX_OFFSET_MINUTES, 'must have a UTC offset between -14:00 and +14:00')
    // NaN (not a date-time at all) is left to the format check above: one message per problem.
    .refine((v) => !(Date.parse(v) < EARLIEST_MS), `must not be before ${EARLIEST_DATE_TIME}`);

/** When an X-ray was taken: bounded below like every date-time, and at most a day ahead of now. */
export const captureTime = () =>
  boundedDateTime().refine(
    (v) => !(Date.parse(v) > Date.now() + CAPTURE_CLOCK_SLACK_MS),
    'must not be more than 24 hours in the future: check the date and time of the device',
  );

/** A page cursor as the server issues it (base64url); what it decodes to is checked by the server. */
export const cursorParam = (maxLength: number) =>
  z
    .string()
    .max(maxLength, 'is not a cursor this server issued')
    .regex(/^[A-Za-z0-9_-]+$/, 'is not a cursor this server issued');

/** The largest PostgreSQL bigint: sequence cursors beyond it are none the server issued. */
export const MAX_BIGINT = 9223372036854775807n;

/**
 * A change sequence number (GET /changes, `Xray.changeSeq`): server-assigned, strictly increasing
 * in commit order, never reused. A JSON integer below 2^53.
 */
export const changeSeq = () => z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** A change sequence number in a query string (`after`, `changedSince`): 0 means from the start. */
export const changeSeqParam = () =>
  // Digits only (no '', '1e3', ' 7' as z.coerce would take), then a number.
  z.preprocess(
    (v) => (typeof v === 'string' && /^[0-9]{1,16}$/.test(v) ? Number(v) : v),
    z
      .number(says('must be a change sequence number (an integer, 0 for the start)'))
      .int('must be a change sequence number (an integer, 0 for the start)')
      .min(0, 'must be a change sequence number (an integer, 0 for the start)')
      .max(Number.MAX_SAFE_INTEGER, 'is not a change sequence number this server issued'),
  );
