import type { DicomTags } from '../media/dicom-tags.ts';
import type { IdentityField, IdentityFieldMismatch } from '../schemas/identity.ts';

/**
 * The patient-identity comparisons, as a clinician reads them, in one place for the server (at
 * ingest) and the edge app (before a capture is sent). Pure functions: no I/O, no clock.
 */

const present = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

/** Patient ids compare without case and surrounding blanks (P-1001 = p-1001). */
export function samePatientId(a: string, b: string): boolean {
  return a.trim().toUpperCase() === b.trim().toUpperCase();
}

/**
 * Whether a file's PatientID was issued by another assigning authority than the hospital's own:
 * only when both are known, the file's IssuerOfPatientID (0010,0021) and the hospital's
 * (PATIENT_ID_ISSUER on the server), and they differ (case and blanks aside). Then the id names
 * another hospital's patient, even when its characters are ours (two hospitals issue P-1001).
 */
export function otherIssuer(fileIssuer: string | undefined, ownIssuer: string | undefined): boolean {
  return present(fileIssuer) && present(ownIssuer) && !sameIssuer(fileIssuer, ownIssuer);
}

/**
 * Two authorities' names alike but for case and surrounding blanks: equal in upper case and in
 * lower case alike, so a letter whose upper case is another's (ſ → S, ı → I) does not make
 * another authority ours (`HOſPITAL-A` is not `HOSPITAL-A`).
 */
function sameIssuer(a: string, b: string): boolean {
  const [x, y] = [a.trim(), b.trim()];
  return x.toUpperCase() === y.toUpperCase() && x.toLowerCase() === y.toLowerCase();
}

/**
 * Whether the file's PatientID names the patient `patientId` of the hospital whose assigning
 * authority is `issuer`: the same id, and not issued by another authority (otherIssuer).
 */
export function sameFilePatient(
  file: { patientId: string; issuerOfPatientId?: string | undefined },
  expected: { patientId: string; issuer?: string | undefined },
): boolean {
  return samePatientId(file.patientId, expected.patientId) && !otherIssuer(file.issuerOfPatientId, expected.issuer);
}

/**
 * Lower case, accents and punctuation gone, ß → ss; hyphens and apostrophes join nothing (O'Brien
 * = OBrien). `umlauts`: ä ö ü first written out as ae oe ue, as a modality limited to ASCII writes
 * them (Müller as MUELLER); without it they lose their dots (Müller as MULLER).
 */
function fold(s: string, umlauts = false): string {
  const lower = s.normalize('NFC').toLowerCase();
  // U+2019 (an apostrophe) as an escape: a bundle holding a character beyond Latin-1 is kept in
  // memory at two bytes a character (apps/sync-server/build.mjs).
  return (umlauts ? lower.replace(/ä/g, 'ae').replace(/ö/g, 'oe').replace(/ü/g, 'ue') : lower)
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/ß/g, 'ss')
    .replace(/['\u2019`]/g, '')
    .replace(/[^\p{L}\p{N}^,=]+/gu, ' ');
}

const words = (s: string): string[] => s.split(/\s+/).filter(Boolean);

/** Titles a record may put before a name ("Dr. Maria Keller"); DICOM keeps them apart (the prefix component). */
const TITLES = new Set(['dr', 'prof', 'mr', 'mrs', 'ms', 'mx', 'herr', 'frau']);
const withoutTitles = (w: string[]): string[] => {
  let i = 0;
  while (i < w.length - 1 && TITLES.has(w[i] ?? '')) i++;
  return w.slice(i);
};

/** A name split into family and given (given, then middle names) words; `ordered`: which is which is known. */
interface NameParts {
  family: string[];
  given: string[];
  /** False for a plain "A B C" with no separator: the family name is taken to be the last word. */
  ordered: boolean;
  all: string[];
}

/**
 * A DICOM PN (`Family^Given^Middle^Prefix^Suffix`, the first of its `=` groups, the alphabetic one)
 * or a display name ("Maria Keller", given names first; "Keller, Maria", family name first).
 * Prefixes and suffixes (Dr., Jr.) are not compared.
 */
export function nameParts(raw: string, umlauts = false): NameParts {
  return groupParts(fold(raw, umlauts).split('=')[0] ?? '');
}

/**
 * Every component group of a name that has words: the alphabetic one, and the ideographic and
 * phonetic ones (`=山田^太郎`, or an empty alphabetic group before another name), of every value
 * — a group the comparison skipped would let a file name anyone there.
 */
function nameGroups(raw: string, umlauts = false): NameParts[] {
  // PatientName has one value; a second (`KELLER^MARIA\\DOE^JOHN`) is compared like another group.
  return raw
    .split('\\')
    .flatMap((value) => fold(value, umlauts).split('='))
    .map(groupParts)
    .filter((p) => p.all.length > 0);
}

function groupParts(alphabetic: string): NameParts {
  if (alphabetic.includes('^')) {
    const [family = '', given = '', middle = ''] = alphabetic.split('^');
    const f = words(family);
    const g = [...words(given), ...words(middle)];
    return { family: f, given: g, ordered: true, all: [...f, ...g] };
  }
  if (alphabetic.includes(',')) {
    const [family = '', ...rest] = alphabetic.split(',');
    const f = words(family);
    const g = withoutTitles(words(rest.join(' ')));
    return { family: f, given: g, ordered: true, all: [...f, ...g] };
  }
  const all = withoutTitles(words(alphabetic));
  return { family: all.slice(-1), given: all.slice(0, -1), ordered: false, all };
}

/** Given names agree when the first is the same and one side's names all appear, in order, in the other's. */
function givenAgree(a: string[], b: string[]): boolean {
  if (a.length === 0 || b.length === 0) return a.length === b.length;
  if (a[0] !== b[0]) return false;
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  let i = 0;
  for (const w of long) if (w === short[i]) i++;
  return i === short.length;
}

const sameWords = (a: string[], b: string[]) => a.length === b.length && a.every((w, i) => w === b[i]);

export type NameComparison = 'same' | 'differs' | 'order_differs';

/**
 * DICOM `KELLER^MARIA` and the record's "Maria Keller" are the same name; case, accents, blanks and
 * punctuation aside; a middle name on one side only does not make them differ ("Keller^Maria^Anna").
 * Component order counts: `MARIA^KELLER` (family and given swapped) is `order_differs` against
 * "Maria Keller" or "Keller, Maria". A display name without separators is taken as given names
 * then family name(s) ("Anna van der Berg" = `VAN DER BERG^ANNA`).
 */
export function compareNames(fileName: string, recordName: string): NameComparison {
  const plain = compareGroups(nameGroups(fileName), nameGroups(recordName));
  if (plain === 'same') return plain;
  // Müller written MUELLER (ASCII) is the same name too; MUELLER and MULLER are not.
  const written = compareGroups(nameGroups(fileName, true), nameGroups(recordName, true));
  return written === 'same' ? written : plain;
}

/**
 * A file's groups against a record's name, each group against the record written in its script:
 * the same when every such group is the same name (`YAMADA^TARO=山田^太郎` is 山田太郎 and Taro
 * Yamada); a group in no script of the record's says nothing, and no comparable group at all
 * differs (`=DOE^JOHN` is not Maria Keller, nor is `DOE^JOHN=KELLER^MARIA`).
 */
function compareGroups(file: NameParts[], record: NameParts[]): NameComparison {
  let outcome: NameComparison = 'differs';
  for (const r of record) {
    const results = file.filter((f) => scriptOf(f) === scriptOf(r)).map((f) => compareNameParts(f, r));
    if (results.length === 0) continue;
    if (results.every((c) => c === 'same')) return 'same';
    if (!results.includes('differs')) outcome = 'order_differs';
  }
  return outcome;
}

/** The script a name is written in, by its first letter: what one of its groups can be compared with. */
function scriptOf(p: NameParts): string {
  const first = p.all.join('');
  if (/^\p{Script=Han}/u.test(first)) return 'han';
  if (/^[\p{Script=Hiragana}\p{Script=Katakana}]/u.test(first)) return 'kana';
  if (/^\p{Script=Hangul}/u.test(first)) return 'hangul';
  return 'other';
}

/** Han, kana and Hangul names are written family name first, often without a blank (山田太郎). */
const UNSPACED_SCRIPT = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;

function compareNameParts(a: NameParts, b: NameParts): NameComparison {
  if (a.all.length === 0 || b.all.length === 0) return 'differs';
  if (UNSPACED_SCRIPT.test(a.all.join('')) && a.all.join('') === b.all.join('')) return 'same';
  let same: boolean;
  if (a.ordered && b.ordered) same = sameWords(a.family, b.family) && givenAgree(a.given, b.given);
  else if (a.ordered || b.ordered) {
    // One side knows its family name: the other's words must end with it.
    const [known, plain] = a.ordered ? [a, b] : [b, a];
    const n = known.family.length;
    same =
      n > 0 &&
      plain.all.length >= n &&
      sameWords(plain.all.slice(-n), known.family) &&
      givenAgree(plain.all.slice(0, -n), known.given);
  } else same = sameWords(a.all, b.all);
  if (same) return 'same';
  const sorted = (w: string[]) => [...w].sort();
  return sameWords(sorted(a.all), sorted(b.all)) ? 'order_differs' : 'differs';
}

/**
 * A date as YYYYMMDD: DICOM DA (`19570314`, the old `1957.03.14`) or ISO 8601 (`1957-03-14`,
 * with or without a time). Undefined when it is not a whole calendar date.
 */
export function normalizeDate(raw: string): string | undefined {
  const m = /^\s*(\d{4})[-.]?(\d{2})[-.]?(\d{2})(?:$|[T\s])/.exec(raw);
  if (!m) return undefined;
  const [, y, mo, d] = m;
  const date = new Date(`${y}-${mo}-${d}T00:00:00Z`);
  if (Number.isNaN(date.getTime()) || date.getUTCDate() !== Number(d)) return undefined;
  return `${y}${mo}${d}`;
}

/**
 * Sex as DICOM codes it (M, F, O), from DICOM CS or a record's words (FHIR administrative gender
 * `male`/`female`/`other`, German `w`/`d`). Undefined for unknown or unreadable values: not compared.
 */
export function normalizeSex(raw: string): 'M' | 'F' | 'O' | undefined {
  const v = fold(raw).trim();
  if (['m', 'male', 'man', 'mann', 'maennlich', 'mannlich'].includes(v)) return 'M';
  if (['f', 'female', 'woman', 'w', 'frau', 'weiblich'].includes(v)) return 'F';
  if (['o', 'other', 'd', 'diverse', 'divers', 'x'].includes(v)) return 'O';
  return undefined;
}

/** What the patient the X-ray is stored under says: its id, and the Patient Service record when there is one. */
export interface ExpectedPatient {
  patientId: string;
  /** The assigning authority that issues the hospital's patient ids (PATIENT_ID_ISSUER); undefined: not known. */
  issuer?: string | undefined;
  record?: { name?: string | undefined; birthDate?: string | undefined; sex?: string | undefined } | undefined;
}

export interface IdentityComparison {
  /** Fields the file names at all (non-blank). */
  inFile: IdentityField[];
  /** Fields both sides had a comparable value for. */
  compared: IdentityField[];
  /** Those of `compared` that differ. */
  mismatches: IdentityFieldMismatch[];
}

/**
 * Compares the file's four patient tags with the expected patient, field by field. The PatientID
 * differs too when it was issued by another assigning authority than the expected patient's
 * (otherIssuer: both known, and not the same): then each side says whose id it is, `P-1001
 * (issuer CLINIC-B)` against `P-1001 (issuer HOSPITAL-A)`, with the hint `other_issuer`.
 */
export function compareIdentity(
  file: Pick<DicomTags, 'patientId' | 'issuerOfPatientId' | 'patientName' | 'patientBirthDate' | 'patientSex'>,
  expected: ExpectedPatient,
): IdentityComparison {
  const out: IdentityComparison = { inFile: [], compared: [], mismatches: [] };
  const { record } = expected;
  const check = (
    field: IdentityField,
    fileValue: string | undefined,
    expectedValue: string | undefined,
    source: IdentityFieldMismatch['source'],
    agree: (f: string, e: string) => boolean | NonNullable<IdentityFieldMismatch['hint']> | undefined,
  ) => {
    if (!present(fileValue)) return;
    out.inFile.push(field);
    if (!present(expectedValue)) return;
    const verdict = agree(fileValue, expectedValue);
    if (verdict === undefined) return; // not comparable (an unreadable date, an unknown sex)
    out.compared.push(field);
    if (verdict === true) return;
    out.mismatches.push({
      field,
      file: fileValue.trim(),
      expected: expectedValue.trim(),
      source,
      ...(typeof verdict === 'string' ? { hint: verdict } : {}),
    });
  };
  const foreign = otherIssuer(file.issuerOfPatientId, expected.issuer);
  const issued = (id: string | undefined, issuer: string | undefined): string | undefined =>
    foreign && present(id) ? `${id.trim()} (issuer ${issuer?.trim() ?? ''})` : id;
  check(
    'patientId',
    issued(file.patientId, file.issuerOfPatientId),
    issued(expected.patientId, expected.issuer),
    'metadata',
    (f, e) => (foreign ? 'other_issuer' : samePatientId(f, e)),
  );
  check('patientName', file.patientName, record?.name, 'patient_service', (f, e) => {
    // A name of separators or punctuation only (`^^`) says nothing: not compared.
    if (nameGroups(f).length === 0 || nameGroups(e).length === 0) return undefined;
    const c = compareNames(f, e);
    return c === 'same' ? true : c === 'order_differs' ? 'name_order' : false;
  });
  check('patientBirthDate', file.patientBirthDate, record?.birthDate, 'patient_service', (f, e) => {
    const [a, b] = [normalizeDate(f), normalizeDate(e)];
    return a && b ? a === b : undefined;
  });
  check('patientSex', file.patientSex, record?.sex, 'patient_service', (f, e) => {
    const [a, b] = [normalizeSex(f), normalizeSex(e)];
    return a && b ? a === b : undefined;
  });
  return out;
}
