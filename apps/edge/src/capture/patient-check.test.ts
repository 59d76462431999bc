import type { DicomTags, Roster } from '@xray/shared';
import { makeDicom } from '@xray/testkit';
import { describe, expect, it } from 'vitest';
import type { CaptureService } from './capture.service.ts';
import { captureReceivedDicom } from './dicom-intake.ts';
import { readHead } from './file-check.ts';
import {
  applyDecision,
  checkPatient,
  decisionSettles,
  fileIssuerDiffers,
  filePatientDiffers,
  holdMessage,
  identityOverrideFor,
  keptDecisionCovers,
  overrideDecidedAt,
  openConsultations,
  sameName,
  searchRoster,
} from './patient-check.ts';

const roster: Roster = {
  generatedAt: '2026-12-06T10:00:00Z',
  patients: [
    { id: 'P-1001', name: 'Maria Keller', birthDate: '1957-03-14' },
    { id: 'P-1002', name: 'Jonas Weber', birthDate: '1983-11-02' },
    { id: 'P-1004', name: 'Peter Novak', birthDate: '1941-09-30' },
    { id: 'P-1005', name: 'Lea Schmidt', birthDate: '2012-01-08' },
  ],
  consultations: [
    { id: 'C-2001', patientId: 'P-1001', status: 'open' },
    { id: 'C-2003', patientId: 'P-1001', status: 'closed' },
  ],
};

describe('the wrong-patient rules', () => {
  it('the file naming another patient holds; keeping the chosen one needs a reason', () => {
    const check = checkPatient({ chosenId: 'P-1004', file: { patientId: 'P-1005' }, roster });
    expect(check.holds).toEqual([{ code: 'file_patient_differs', filePatientId: 'P-1005', chosenId: 'P-1004' }]);
    expect(check.filePatient?.name).toBe('Lea Schmidt');
    expect(decisionSettles(check, undefined)).toBe(false);
    expect(decisionSettles(check, { choice: 'keep_chosen_patient', reason: ' ' })).toBe(false);
    expect(decisionSettles(check, { choice: 'keep_chosen_patient', reason: 'detector reused' })).toBe(true);
    expect(applyDecision('P-1004', 'P-1005', { choice: 'keep_chosen_patient', reason: ' detector reused ' })).toEqual({
      patientId: 'P-1004',
      patientDecision: 'keep_chosen_patient',
      patientDecisionReason: 'detector reused',
    });
    expect(applyDecision('P-1004', 'P-1005', { choice: 'use_file_patient' })).toEqual({
      patientId: 'P-1005',
      patientDecision: 'use_file_patient',
    });
  });

  it('the file-id rule alone (no roster needed) is the one checkPatient applies', () => {
    expect(filePatientDiffers(' P-1004 ', 'P-1005 ')).toEqual({
      code: 'file_patient_differs',
      filePatientId: 'P-1005',
      chosenId: 'P-1004',
    });
    expect(filePatientDiffers('p-1005', 'P-1005')).toBeUndefined();
    expect(filePatientDiffers('', 'P-1005')).toBeUndefined();
    expect(filePatientDiffers('P-1004', undefined)).toBeUndefined();
    expect(filePatientDiffers('P-1004', ' ')).toBeUndefined();
  });

  it('the same id with another name holds; DICOM name order, case and ^ do not', () => {
    expect(sameName('KELLER^MARIA', 'Maria Keller')).toBe(true);
    expect(
      checkPatient({ chosenId: 'p-1001', file: { patientId: 'P-1001', patientName: 'KELLER^MARIA' }, roster }).holds,
    ).toEqual([]);
    expect(
      checkPatient({ chosenId: 'P-1001', file: { patientId: 'P-1001', patientName: 'WEBER^JONAS' }, roster }).holds,
    ).toEqual([{ code: 'file_name_differs', fileName: 'WEBER^JONAS', rosterName: 'Maria Keller' }]);
  });

  it('an id off the roster (or no roster at all) holds', () => {
    expect(checkPatient({ chosenId: 'P-1O01', roster }).holds).toEqual([{ code: 'not_in_roster', chosenId: 'P-1O01' }]);
    expect(checkPatient({ chosenId: 'P-1001', roster: undefined }).holds).toEqual([
      { code: 'not_in_roster', chosenId: 'P-1001' },
    ]);
    expect(checkPatient({ chosenId: '', roster }).holds).toEqual([]);
  });

  it('search: a few letters of a name, part of an id, a glove typo; nothing for text that names nobody', () => {
    expect(searchRoster(roster, 'kel').map((p) => p.id)).toEqual(['P-1001']);
    expect(searchRoster(roster, '1OO2').map((p) => p.id)).toEqual(['P-1002']);
    expect(searchRoster(roster, 'p-1004').map((p) => p.id)).toEqual(['P-1004']);
    expect(searchRoster(roster, 'Web x')).toEqual([]);
    expect(searchRoster(undefined, 'kel')).toEqual([]);
  });

  it('consultations only for a patient on the roster, open ones only', () => {
    expect(openConsultations(roster, 'P-1001').map((c) => c.id)).toEqual(['C-2001']);
    expect(openConsultations(roster, 'Web')).toEqual([]);
  });
});

describe("the file's IssuerOfPatientID against the hospital's (/edge-config patientIdIssuer)", () => {
  const keller = { patientId: 'P-1001', patientName: 'KELLER^MARIA', patientBirthDate: '19570314' };
  const clinic = { ...keller, issuerOfPatientId: 'CLINIC-B' };
  const keep = { choice: 'keep_chosen_patient', reason: 'Transferred from the clinic, same person' } as const;

  it('our P-1001 issued by another authority holds, the paramedic told whose id it is; kept with a reason, the patient ID is overridden', () => {
    const check = checkPatient({ chosenId: 'P-1001', file: clinic, roster, issuer: 'HOSPITAL-A' });
    expect(check.holds).toEqual([
      {
        code: 'file_issuer_differs',
        filePatientId: 'P-1001',
        fileIssuer: 'CLINIC-B',
        ourIssuer: 'HOSPITAL-A',
        chosenId: 'P-1001',
      },
    ]);
    expect(check.holds.map(holdMessage)).toEqual([
      "This file's patient id P-1001 was issued by CLINIC-B, not by this hospital (HOSPITAL-A): it may be another person.",
    ]);
    // The chosen patient is on the roster; the file's id names nobody on it (another hospital's).
    expect(check.patient?.name).toBe('Maria Keller');
    expect(check.filePatient).toBeUndefined();
    expect(decisionSettles(check, undefined)).toBe(false);
    expect(decisionSettles(check, { choice: 'keep_chosen_patient', reason: ' ' })).toBe(false);
    expect(decisionSettles(check, keep)).toBe(true);
    // What the capture carries to the server: the decision, and the override naming patientId
    // (which the server takes as covering another authority's id; a bare decision it does not).
    expect({
      ...applyDecision('P-1001', clinic.patientId, keep),
      ...identityOverrideFor(check, keep, '2026-12-07T10:00:00Z'),
    }).toEqual({
      patientId: 'P-1001',
      patientDecision: 'keep_chosen_patient',
      patientDecisionReason: keep.reason,
      identityOverride: { fields: ['patientId'], reason: keep.reason, decidedAt: '2026-12-07T10:00:00Z' },
    });
  });

  it('"Fix and resend": a decision kept for one hold does not settle another the device learned since', () => {
    // Kept while the device knew no issuer: P-1007 was not on the roster (no identity field differed).
    const before = checkPatient({ chosenId: 'P-1007', file: { ...clinic, patientId: 'P-1007' }, roster });
    expect(before.holds.map((h) => h.code)).toEqual(['not_in_roster']);
    const carried = { ...applyDecision('P-1007', 'P-1007', keep), ...identityOverrideFor(before, keep, 'T') };
    expect(carried.identityOverride).toBeUndefined();
    expect(keptDecisionCovers(before, carried)).toBe(true);
    // Now the issuer is known: the file's id is another authority's. The old reason does not cover it.
    const now = checkPatient({
      chosenId: 'P-1007',
      file: { ...clinic, patientId: 'P-1007' },
      roster,
      issuer: 'HOSPITAL-A',
    });
    expect(now.holds.map((h) => h.code)).toEqual(['file_issuer_differs', 'not_in_roster']);
    expect(keptDecisionCovers(now, carried)).toBe(false);
    // A decision that overrode the patient ID covers the same field again, but not "not on the
    // list" (it may have been taken with the patient on it): asked again while that hold is there.
    expect(keptDecisionCovers(now, { identityOverride: { fields: ['patientId'] } })).toBe(false);
    expect(keptDecisionCovers(now, { identityOverride: { fields: ['patientName'] } })).toBe(false);
    const listed = checkPatient({
      chosenId: 'P-1001',
      file: { ...clinic, patientId: 'P-1001' },
      roster,
      issuer: 'HOSPITAL-A',
    });
    expect(listed.holds.map((h) => h.code)).toEqual(['file_issuer_differs']);
    expect(keptDecisionCovers(listed, { identityOverride: { fields: ['patientId'] } })).toBe(true);
  });

  it('"Fix and resend" sends a carried override with the time it was decided, a new one with now', () => {
    const check = checkPatient({
      chosenId: 'P-1001',
      file: { ...clinic, patientId: 'P-1001' },
      roster,
      issuer: 'HOSPITAL-A',
    });
    const carried = identityOverrideFor(check, keep, '2026-12-07T08:00:00Z');
    const now = '2026-12-07T11:30:00Z';
    // Still the carried decision, and it covers the hold: the audit keeps when the paramedic decided.
    expect(
      identityOverrideFor(check, keep, overrideDecidedAt(check, carried, true, now)).identityOverride?.decidedAt,
    ).toBe('2026-12-07T08:00:00Z');
    // A decision made in the form, or a carried one that no longer covers the holds: decided now.
    expect(overrideDecidedAt(check, carried, false, now)).toBe(now);
    const unlisted = checkPatient({
      chosenId: 'P-1007',
      file: { ...clinic, patientId: 'P-1007' },
      roster,
      issuer: 'HOSPITAL-A',
    });
    expect(overrideDecidedAt(unlisted, carried, true, now)).toBe(now);
    expect(overrideDecidedAt(check, {}, true, now)).toBe(now);
  });

  it('another id of another authority: the issuer hold alone (its id is not ours to take), named against the chosen one', () => {
    const check = checkPatient({
      chosenId: 'P-1001',
      file: { patientId: 'P-1005', issuerOfPatientId: 'CLINIC-B' },
      roster,
      issuer: 'HOSPITAL-A',
    });
    expect(check.holds.map((h) => h.code)).toEqual(['file_issuer_differs']);
    expect(check.holds.map(holdMessage)).toEqual([
      "This file's patient id P-1005 was issued by CLINIC-B, not by this hospital (HOSPITAL-A), and is not P-1001: it may be another person.",
    ]);
    // Our P-1005 (Lea Schmidt) is not the clinic's: not offered as the file's patient.
    expect(check.filePatient).toBeUndefined();
  });

  it("with the issuer, the file's name and birth date are still compared: one decision covers every field the server finds", () => {
    const check = checkPatient({
      chosenId: 'P-1001',
      file: { ...clinic, patientName: 'WEBER^JONAS', patientBirthDate: '19831102' },
      roster,
      issuer: 'HOSPITAL-A',
    });
    expect(check.holds.map((h) => h.code)).toEqual([
      'file_issuer_differs',
      'file_name_differs',
      'file_identity_differs',
    ]);
    expect(identityOverrideFor(check, keep, '2026-12-07T10:00:00Z').identityOverride?.fields).toEqual([
      'patientId',
      'patientName',
      'patientBirthDate',
    ]);
  });

  it('our own issuer however written, a file naming none, or no issuer known to the device: no hold, as before', () => {
    const cases: [Pick<DicomTags, 'patientId' | 'issuerOfPatientId' | 'patientName'>, string | undefined][] = [
      [{ ...keller, issuerOfPatientId: ' hospital-a ' }, 'HOSPITAL-A'],
      [keller, 'HOSPITAL-A'],
      [{ ...keller, issuerOfPatientId: ' ' }, 'HOSPITAL-A'],
      [clinic, undefined],
    ];
    for (const [file, issuer] of cases) {
      const label = `${String(file.issuerOfPatientId)} / ${String(issuer)}`;
      expect(checkPatient({ chosenId: 'P-1001', file, roster, issuer }).holds, label).toEqual([]);
      expect(fileIssuerDiffers('P-1001', file, issuer), label).toBeUndefined();
    }
  });

  it("a detector's image (C-STORE) issued by another authority is stored but held, the issuer named", async () => {
    const bytes = makeDicom({ rows: 8, columns: 8, seed: 7, ...clinic });
    expect((await readHead(new File([new Uint8Array(bytes)], 'x.dcm')))?.dicom?.issuerOfPatientId).toBe('CLINIC-B');
    const calls: Parameters<CaptureService['capture']>[] = [];
    const capture: CaptureService['capture'] = (...args) => {
      calls.push(args);
      return Promise.resolve({} as Awaited<ReturnType<CaptureService['capture']>>);
    };
    const instance = { bytes, sopInstanceUid: '1.2.3', callingAeTitle: 'DETECTOR_1' };
    await captureReceivedDicom(capture, instance, { roster: () => roster, patientIdIssuer: () => 'HOSPITAL-A' });
    await captureReceivedDicom(capture, instance, { roster: () => roster });
    expect(calls.map(([, , opts]) => opts?.hold)).toEqual([
      {
        code: 'patient_check',
        message:
          "From detector DETECTOR_1: This file's patient id P-1001 was issued by CLINIC-B, not by this hospital (HOSPITAL-A): it may be another person. Check the patient before it is sent.",
      },
      // Without the hospital's issuer: P-1001 as before (on the roster, name and birth date agree).
      undefined,
    ]);
  });
});
