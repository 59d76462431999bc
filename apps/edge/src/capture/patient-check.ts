import {
  compareIdentity,
  compareNames,
  normalizeDate,
  otherIssuer,
  showable,
  type DicomTags,
  type IdentityField,
  type IdentityFieldMismatch,
  type IdentityOverrideInput,
  type PatientDecision,
  type Roster,
  type RosterConsultation,
  type RosterPatient,
} from '@xray/shared';

/**
 * The wrong-patient rules, as pure functions: the capture screen and the DICOM receiver both
 * ask them before a capture may be sent. A capture "holds" (nothing is sent) while any of these
 * is true and the paramedic has not decided:
 *
 * - the file's own PatientID differs from the chosen patient id;
 * - the file's PatientID was issued by another assigning authority (its IssuerOfPatientID) than
 *   the hospital's (the server's PATIENT_ID_ISSUER, from /edge-config): another hospital's
 *   patient, even when the id reads as the chosen one;
 * - the ids agree but the file's PatientName is not the roster's name for that id;
 * - the ids agree but the file's PatientBirthDate or PatientSex is not the roster's;
 * - the chosen id is not on the roster the device keeps.
 *
 * The comparisons are @xray/shared's compareIdentity, the ones the server checks identity with
 * at ingest. The decision is `use_file_patient` (the capture takes the file's id) or
 * `keep_chosen_patient` with a reason; it travels with the X-ray as `patientDecision` /
 * `patientDecisionReason`, and keeping a patient the file's identity differs from as
 * `identityOverride` (which fields, why, when: identityOverrideFor).
 */

export type HoldReason =
  | { code: 'file_patient_differs'; filePatientId: string; chosenId: string }
  | { code: 'file_issuer_differs'; filePatientId: string; fileIssuer: string; ourIssuer: string; chosenId: string }
  | { code: 'file_name_differs'; fileName: string; rosterName: string }
  | { code: 'file_identity_differs'; mismatches: IdentityFieldMismatch[] }
  | { code: 'not_in_roster'; chosenId: string };

export interface PatientCheck {
  /** The roster's entry for the chosen id, when there is one. */
  patient?: RosterPatient;
  /** The roster's entry for the file's PatientID, when there is one (never for another authority's id). */
  filePatient?: RosterPatient;
  holds: HoldReason[];
}

export interface PatientDecisionInput {
  choice: PatientDecision;
  reason?: string;
}

/** Ids compare without case and surrounding blanks (P-1001 = p-1001). */
export const sameId = (a: string | undefined, b: string | undefined): boolean =>
  a !== undefined && b !== undefined && a.trim().toUpperCase() === b.trim().toUpperCase();

/** "SCHMIDT^LEA" and "Lea Schmidt" are the same name: DICOM's ^ separators, case, order and blanks aside. */
export function nameTokens(name: string): string[] {
  return name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .split(/[\s^,]+/)
    .filter(Boolean)
    .sort();
}

/** The same name as a clinician reads it (family and given name in their places): @xray/shared compareNames. */
export function sameName(a: string, b: string): boolean {
  return compareNames(a, b) === 'same';
}

/** A DICOM PersonName as people read it: "SCHMIDT^LEA" → "Lea Schmidt"-like "SCHMIDT, LEA". */
export const readableDicomName = (name: string): string =>
  name
    .split('^')
    .map((p) => p.trim())
    .filter(Boolean)
    .join(', ');

export const findPatient = (roster: Roster | undefined, id: string): RosterPatient | undefined =>
  roster?.patients.find((p) => sameId(p.id, id));

/**
 * The first rule alone, which needs no roster: the file's own PatientID names another patient than
 * the chosen id. The capture service asks it for captures made without the screen.
 */
export function filePatientDiffers(
  chosenId: string,
  filePatientId: string | undefined,
): Extract<HoldReason, { code: 'file_patient_differs' }> | undefined {
  const chosen = chosenId.trim();
  const fileId = filePatientId?.trim();
  if (!chosen || !fileId || sameId(fileId, chosen)) return undefined;
  return { code: 'file_patient_differs', filePatientId: fileId, chosenId: chosen };
}

/**
 * The issuer rule: the file's PatientID issued by another assigning authority than the hospital's
 * (@xray/shared otherIssuer, as the server compares them: both known, case and blanks aside).
 */
export function fileIssuerDiffers(
  chosenId: string,
  file: Pick<DicomTags, 'patientId' | 'issuerOfPatientId'> | undefined,
  ourIssuer: string | undefined,
): Extract<HoldReason, { code: 'file_issuer_differs' }> | undefined {
  const chosen = chosenId.trim();
  const fileId = file?.patientId?.trim();
  const fileIssuer = file?.issuerOfPatientId?.trim();
  if (!chosen || !fileId || !fileIssuer || !ourIssuer || !otherIssuer(fileIssuer, ourIssuer)) return undefined;
  return {
    code: 'file_issuer_differs',
    filePatientId: fileId,
    fileIssuer,
    ourIssuer: ourIssuer.trim(),
    chosenId: chosen,
  };
}

/**
 * Checks the chosen patient against the file and the roster. `roster` undefined means the
 * device has none yet (never signed in online): every typed id then holds as not on the roster.
 * `issuer`: the hospital's assigning authority (/edge-config `patientIdIssuer`); undefined when
 * the server names none, and a file's PatientID is then compared alone.
 */
export function checkPatient(input: {
  chosenId: string;
  file?:
    Pick<DicomTags, 'patientId' | 'issuerOfPatientId' | 'patientName' | 'patientBirthDate' | 'patientSex'> | undefined;
  roster: Roster | undefined;
  issuer?: string | undefined;
}): PatientCheck {
  const chosenId = input.chosenId.trim();
  const holds: HoldReason[] = [];
  const patient = chosenId ? findPatient(input.roster, chosenId) : undefined;
  const fileId = input.file?.patientId?.trim() || undefined;
  // Another authority's id names nobody on our roster, whatever it reads as.
  const foreign = otherIssuer(input.file?.issuerOfPatientId, input.issuer);
  const filePatient = fileId && !foreign ? findPatient(input.roster, fileId) : undefined;
  if (!chosenId) return { holds, ...(filePatient ? { filePatient } : {}) };
  const issued = fileIssuerDiffers(chosenId, input.file, input.issuer);
  const differs = filePatientDiffers(chosenId, fileId);
  // Another authority's id is not ours to take ("use the file's patient"): the issuer hold alone.
  if (issued) holds.push(issued);
  else if (differs) holds.push(differs);
  // The same id (or another authority's): the file's demographics against the chosen patient's,
  // as the server compares them, so that a decision covers every field the server finds differing.
  if (!differs && patient && input.file) {
    const { mismatches } = compareIdentity(input.file, { patientId: chosenId, record: patient });
    const name = mismatches.find((m) => m.field === 'patientName');
    if (name) holds.push({ code: 'file_name_differs', fileName: name.file, rosterName: name.expected });
    const others = mismatches.filter((m) => m.field === 'patientBirthDate' || m.field === 'patientSex');
    if (others.length) holds.push({ code: 'file_identity_differs', mismatches: others });
  }
  if (!patient) holds.push({ code: 'not_in_roster', chosenId });
  return { holds, ...(patient ? { patient } : {}), ...(filePatient ? { filePatient } : {}) };
}

/**
 * True when the capture may be stored and sent: nothing holds, or the paramedic keeps the chosen
 * patient with a reason. (Using the file's patient changes the chosen id to the file's; the check
 * is then run again on that id, and whatever still holds needs keep + reason.)
 */
export function decisionSettles(check: PatientCheck, decision: PatientDecisionInput | undefined): boolean {
  if (check.holds.length === 0) return true;
  return decision?.choice === 'keep_chosen_patient' && (decision.reason?.trim().length ?? 0) >= 3;
}

/** The capture fields a decision sets: the id to send, and the decision as upload metadata. */
export function applyDecision(
  chosenId: string,
  filePatientId: string | undefined,
  decision: PatientDecisionInput | undefined,
): { patientId: string; patientDecision?: PatientDecision; patientDecisionReason?: string } {
  if (!decision) return { patientId: chosenId.trim() };
  if (decision.choice === 'use_file_patient' && filePatientId)
    return { patientId: filePatientId.trim(), patientDecision: 'use_file_patient' };
  return {
    patientId: chosenId.trim(),
    patientDecision: 'keep_chosen_patient',
    ...(decision.reason?.trim() ? { patientDecisionReason: decision.reason.trim() } : {}),
  };
}

/**
 * Whether the decision a capture carries still settles the holds it meets now (the queue's "Fix
 * and resend"): it was taken for the identity fields its override names, so a hold on another
 * field (an issuer the device learned since, a roster that changed) is decided again, not
 * inherited with an old reason written for something else.
 */
export function keptDecisionCovers(
  check: PatientCheck,
  kept: { identityOverride?: { fields: readonly IdentityField[] } | undefined },
): boolean {
  const fields = kept.identityOverride?.fields ?? [];
  const overridden = new Set(fields);
  if (!differingIdentityFields(check).every((f) => overridden.has(f))) return false;
  // "Not on the patient list" names no field. A decision that overrode none was taken for that
  // hold alone; one that overrode a field may have been taken with the patient on the list (a
  // name, birth date or sex hold needs its entry), so it does not settle the patient's absence now.
  return fields.length === 0 || !check.holds.some((h) => h.code === 'not_in_roster');
}

/**
 * When the override "Fix and resend" sends was decided: the carried one's time while the form
 * still uses the decision the capture carried (`inherited`) and it covers the holds (the paramedic
 * decided then, and the audit must say so), else now (a decision made in the form).
 */
export function overrideDecidedAt(
  check: PatientCheck,
  kept: { identityOverride?: { fields: readonly IdentityField[]; decidedAt: string } | undefined },
  inherited: boolean,
  now: string,
): string {
  return inherited && kept.identityOverride && keptDecisionCovers(check, kept) ? kept.identityOverride.decidedAt : now;
}

/** The identity fields the holds say differ (what keeping the chosen patient overrides). */
export function differingIdentityFields(check: PatientCheck): IdentityField[] {
  return check.holds.flatMap((h): IdentityField[] => {
    if (h.code === 'file_patient_differs' || h.code === 'file_issuer_differs') return ['patientId'];
    if (h.code === 'file_name_differs') return ['patientName'];
    if (h.code === 'file_identity_differs') return h.mismatches.map((m) => m.field);
    return [];
  });
}

/**
 * The override a capture carries when the paramedic keeps the chosen patient although the file's
 * identity differs: which fields, why, and when it was decided. None otherwise.
 */
export function identityOverrideFor(
  check: PatientCheck,
  decision: PatientDecisionInput | undefined,
  decidedAt: string,
): { identityOverride?: IdentityOverrideInput } {
  const fields = differingIdentityFields(check);
  const reason = decision?.reason?.trim() ?? '';
  if (decision?.choice !== 'keep_chosen_patient' || reason.length < 3 || fields.length === 0) return {};
  return { identityOverride: { fields, reason, decidedAt } };
}

const FIELD_LABELS: Record<IdentityField, string> = {
  patientId: 'patient ID',
  patientName: 'name',
  patientBirthDate: 'birth date',
  patientSex: 'sex',
};

/** A birth date as people read it (1957-03-14), whichever way it is written. */
const readableDate = (v: string): string => {
  const d = normalizeDate(v);
  return d ? `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}` : v;
};

/** One differing field as the paramedic reads it: the file's value against the patient list's. */
export function mismatchMessage(m: IdentityFieldMismatch): string {
  const [file, listed] =
    m.field === 'patientBirthDate' ? [readableDate(m.file), readableDate(m.expected)] : [m.file, m.expected];
  return `The file's ${FIELD_LABELS[m.field]} is ${file}, the patient list's ${listed}.`;
}

/**
 * What the paramedic reads for each hold. The file's own values never went through the input
 * rules: shown through @xray/shared showable (an RLO issuer must not read as ours).
 */
export function holdMessage(h: HoldReason): string {
  switch (h.code) {
    case 'file_patient_differs':
      return `The file names patient ${showable(h.filePatientId)}, not ${h.chosenId}.`;
    case 'file_issuer_differs':
      return sameId(h.filePatientId, h.chosenId)
        ? `This file's patient id ${showable(h.filePatientId)} was issued by ${showable(h.fileIssuer)}, not by this hospital (${h.ourIssuer}): it may be another person.`
        : `This file's patient id ${showable(h.filePatientId)} was issued by ${showable(h.fileIssuer)}, not by this hospital (${h.ourIssuer}), and is not ${h.chosenId}: it may be another person.`;
    case 'file_name_differs':
      return `The file names ${showable(readableDicomName(h.fileName))}, the roster ${h.rosterName}.`;
    case 'file_identity_differs':
      return h.mismatches.map(mismatchMessage).join(' ');
    case 'not_in_roster':
      return `${h.chosenId} is not on this device's patient list.`;
  }
}

/** Fold for search: case, accents and the dash in ids aside, and the O/0, I/1 a glove mistypes. */
const fold = (s: string): string =>
  s
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[\s-]+/g, '');
const foldId = (s: string): string => fold(s).replace(/o/g, '0').replace(/[il]/g, '1');

/**
 * The roster's patients matching what was typed: by id (start or part, "1002" finds P-1002), or
 * every word of the query at the start of a name word ("kel" finds Maria Keller). Exact id first.
 */
export function searchRoster(roster: Roster | undefined, query: string, limit = 6): RosterPatient[] {
  const q = query.trim();
  if (!roster || !q) return [];
  const qId = foldId(q);
  const words = nameTokens(q);
  const scored: { p: RosterPatient; score: number }[] = [];
  for (const p of roster.patients) {
    const id = foldId(p.id);
    let score = 0;
    if (id === qId) score = 100;
    else if (qId.length >= 2 && id.includes(qId)) score = 50;
    else if (p.name && words.length) {
      const nameWords = nameTokens(p.name);
      if (words.every((w) => nameWords.some((n) => n.startsWith(w)))) score = 30;
    }
    if (score) scored.push({ p, score });
  }
  return scored
    .sort((a, b) => b.score - a.score || a.p.id.localeCompare(b.p.id))
    .slice(0, limit)
    .map((s) => s.p);
}

/** Open consultations of a patient on the roster (none for an id that is not on it). */
export const openConsultations = (roster: Roster | undefined, patientId: string): RosterConsultation[] =>
  findPatient(roster, patientId)
    ? (roster?.consultations ?? []).filter((c) => sameId(c.patientId, patientId) && c.status !== 'closed')
    : [];
