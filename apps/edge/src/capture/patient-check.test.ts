import type { Roster } from '@xray/shared';
import { describe, expect, it } from 'vitest';
import {
  applyDecision,
  checkPatient,
  decisionSettles,
  filePatientDiffers,
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
