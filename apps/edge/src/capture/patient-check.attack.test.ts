import type { Roster } from '@xray/shared';
import { describe, expect, it } from 'vitest';
import { applyDecision, checkPatient, identityOverrideFor, keptDecisionCovers } from './patient-check.ts';

// Attack on "Fix and resend" (keptDecisionCovers): a reason written for one hold must not settle
// another that appeared since, including "not on the patient list", which names no identity field.
const roster: Roster = {
  generatedAt: '2026-12-06T10:00:00Z',
  patients: [
    { id: 'P-1001', name: 'Maria Keller', birthDate: '1957-03-14' },
    { id: 'P-1004', name: 'Peter Novak', birthDate: '1941-09-30' },
  ],
  consultations: [],
};
// Later the same day: P-1001 has left the device's patient list.
const laterRoster: Roster = { ...roster, patients: roster.patients.filter((p) => p.id !== 'P-1001') };
const keep = { choice: 'keep_chosen_patient' as const, reason: 'detector name typo, same person' };
const carry = (check: ReturnType<typeof checkPatient>, chosen: string, fileId: string) => ({
  ...applyDecision(chosen, fileId, keep),
  ...identityOverrideFor(check, keep, 'T'),
});

describe('attack: a kept decision meets "not on the patient list" it was never taken for', () => {
  it('a name override (the patient was on the list then) does not settle the patient being off the list now', () => {
    const file = { patientId: 'P-1001', patientName: 'KELER^MARIA' };
    const before = checkPatient({ chosenId: 'P-1001', file, roster });
    expect(before.holds.map((h) => h.code)).toEqual(['file_name_differs']);
    const carried = carry(before, 'P-1001', 'P-1001');
    expect(carried.identityOverride?.fields).toEqual(['patientName']);

    const now = checkPatient({ chosenId: 'P-1001', file, roster: laterRoster });
    expect(now.holds.map((h) => h.code)).toEqual(['not_in_roster']);
    expect(keptDecisionCovers(now, carried)).toBe(false);
    // No roster at all (none shown) is the same: every id is off the list.
    expect(keptDecisionCovers(checkPatient({ chosenId: 'P-1001', file, roster: undefined }), carried)).toBe(false);
  });

  it('a patient-id override taken while the chosen patient was on the list does not settle its absence now', () => {
    const file = { patientId: 'P-1004' };
    const before = checkPatient({ chosenId: 'P-1001', file, roster });
    expect(before.holds.map((h) => h.code)).toEqual(['file_patient_differs']);
    const carried = carry(before, 'P-1001', 'P-1004');
    const now = checkPatient({ chosenId: 'P-1001', file, roster: laterRoster });
    expect(now.holds.map((h) => h.code)).toEqual(['file_patient_differs', 'not_in_roster']);
    expect(keptDecisionCovers(now, carried)).toBe(false);
  });

  it('held: a decision taken for "not on the list" alone still settles that same hold', () => {
    const before = checkPatient({ chosenId: 'P-1007', file: { patientId: 'P-1007' }, roster });
    const carried = carry(before, 'P-1007', 'P-1007');
    expect(carried.identityOverride).toBeUndefined();
    expect(keptDecisionCovers(before, carried)).toBe(true);
    // And what it never saw (the file's name against a list entry that appeared since) is asked again.
    const listed: Roster = { ...roster, patients: [...roster.patients, { id: 'P-1007', name: 'Anna Roth' }] };
    const now = checkPatient({
      chosenId: 'P-1007',
      file: { patientId: 'P-1007', patientName: 'DOE^JOHN' },
      roster: listed,
    });
    expect(keptDecisionCovers(now, carried)).toBe(false);
  });
});
