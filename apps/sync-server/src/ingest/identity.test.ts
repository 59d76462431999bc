import type { Link } from '@xray/shared';
import { describe, expect, it } from 'vitest';
import { decideIdentity, newMismatch, overrideOf } from './identity.ts';

const now = new Date('2026-11-27T08:31:00Z');
const record = { id: 'P-1001', name: 'Maria Keller', birthDate: '1957-03-14', sex: 'female' };
const verified: Link = { status: 'verified', checkedAt: now.toISOString(), patient: record };
const file = { patientId: 'P-1001', patientName: 'KELLER^MARIA', patientBirthDate: '19570314', patientSex: 'F' };
const by = { sub: 'para-1', name: 'Sam Ortiz' };

describe('decideIdentity', () => {
  it('consistent: all four compared and agreeing', () => {
    expect(decideIdentity({ dicom: file, patientId: 'P-1001', link: verified, now })).toEqual({
      status: 'consistent',
      fields: [],
      compared: ['patientId', 'patientName', 'patientBirthDate', 'patientSex'],
      overridden: false,
      checkedAt: now.toISOString(),
    });
  });

  it('mismatch on each field alone, with both values and the source', () => {
    const cases = [
      [{ patientId: 'P-1003' }, { field: 'patientId', file: 'P-1003', expected: 'P-1001', source: 'metadata' }],
      [
        { patientName: 'DOE^JOHN' },
        { field: 'patientName', file: 'DOE^JOHN', expected: 'Maria Keller', source: 'patient_service' },
      ],
      [
        { patientBirthDate: '19570315' },
        { field: 'patientBirthDate', file: '19570315', expected: '1957-03-14', source: 'patient_service' },
      ],
      [{ patientSex: 'M' }, { field: 'patientSex', file: 'M', expected: 'female', source: 'patient_service' }],
    ] as const;
    for (const [change, mismatch] of cases) {
      const got = decideIdentity({ dicom: { ...file, ...change }, patientId: 'P-1001', link: verified, now });
      expect(got.status).toBe('mismatch');
      expect(got.fields).toEqual([mismatch]);
      expect(got.overridden).toBe(false);
    }
  });

  it('unknown: not a DICOM, or a DICOM without patient tags', () => {
    expect(decideIdentity({ dicom: null, patientId: 'P-1001', link: verified, now })).toMatchObject({
      status: 'unknown',
      reason: 'not_dicom',
    });
    expect(decideIdentity({ dicom: { modality: 'DX' }, patientId: 'P-1001', link: verified, now })).toMatchObject({
      status: 'unknown',
      reason: 'no_patient_tags',
    });
  });

  it('the Patient Service not answering: unknown until the link settles, unless the id already differs', () => {
    const pending: Link = { status: 'pending', reason: 'patient_service_unavailable' };
    expect(decideIdentity({ dicom: file, patientId: 'P-1001', link: pending, now })).toMatchObject({
      status: 'unknown',
      reason: 'patient_service_unavailable',
      compared: ['patientId'],
    });
    expect(decideIdentity({ dicom: file, patientId: 'P-1002', link: pending, now })).toMatchObject({
      status: 'mismatch',
      fields: [{ field: 'patientId' }],
    });
  });

  it('no Patient Service: the id alone is compared; demographics alone are nothing to compare', () => {
    const unchecked: Link = { status: 'unchecked' };
    expect(decideIdentity({ dicom: file, patientId: 'P-1001', link: unchecked, now })).toMatchObject({
      status: 'consistent',
      compared: ['patientId'],
    });
    expect(
      decideIdentity({ dicom: { patientName: 'DOE^JOHN' }, patientId: 'P-1001', link: unchecked, now }),
    ).toMatchObject({ status: 'unknown', reason: 'no_patient_record' });
  });

  it('a record of another patient (a stale summary) is not compared with', () => {
    const other: Link = { ...verified, patient: { ...record, id: 'P-1002' } };
    expect(decideIdentity({ dicom: { patientName: 'DOE^JOHN' }, patientId: 'P-1001', link: other, now })).toMatchObject(
      { status: 'unknown' },
    );
  });

  it('an override keeps the mismatch, and is `overridden` only when it covers every field that differs', () => {
    const dicom = { ...file, patientName: 'DOE^JOHN', patientSex: 'M' };
    const override = overrideOf(
      {
        capturedAt: '2026-11-27T08:15:00Z',
        patientId: 'P-1001',
        identityOverride: {
          fields: ['patientName', 'patientSex'],
          reason: 'Detector kept the last name',
          decidedAt: '2026-11-27T08:20:00Z',
        },
      },
      by,
      dicom,
    );
    const covered = decideIdentity({ dicom, patientId: 'P-1001', link: verified, override, now });
    expect(covered).toMatchObject({
      status: 'mismatch',
      overridden: true,
      override: { by, from: 'identity_override' },
    });
    const partly = decideIdentity({
      dicom: { ...dicom, patientBirthDate: '19990101' },
      patientId: 'P-1001',
      link: verified,
      override,
      now,
    });
    expect(partly).toMatchObject({ status: 'mismatch', overridden: false });
    expect(newMismatch(covered, partly)).toBe(true);
    expect(newMismatch(covered, covered)).toBe(false);
    expect(newMismatch(undefined, covered)).toBe(true);
  });

  it('keep_chosen_patient alone is an override of the PatientID only, and only when the file names another patient', () => {
    const decision = {
      capturedAt: '2026-11-27T08:15:00Z',
      patientId: 'P-1001',
      patientDecision: 'keep_chosen_patient' as const,
      patientDecisionReason: 'Stale worklist',
    };
    expect(overrideOf(decision, by, { patientId: 'P-1003' })).toEqual({
      fields: ['patientId'],
      reason: 'Stale worklist',
      decidedAt: '2026-11-27T08:15:00.000Z',
      by,
      from: 'patient_decision',
    });
    // The edge sends it when the only hold was "not on the roster": the file's PatientID agrees
    // (however written), or there is none: nothing was decided about the file.
    expect(overrideOf(decision, by, { patientId: ' p-1001 ' })).toBeUndefined();
    expect(overrideOf(decision, by, {})).toBeUndefined();
    expect(overrideOf(decision, by, null)).toBeUndefined();
    expect(
      overrideOf({ ...decision, patientDecision: 'use_file_patient' }, by, { patientId: 'P-1003' }),
    ).toBeUndefined();
    // A name found to differ later is not covered: the mismatch is not `overridden`.
    const dicom = { ...file, patientName: 'DOE^JOHN' };
    expect(
      decideIdentity({ dicom, patientId: 'P-1001', link: verified, override: overrideOf(decision, by, dicom), now }),
    ).toMatchObject({ status: 'mismatch', overridden: false });
    const otherPatient = { ...file, patientId: 'P-1003' };
    expect(
      decideIdentity({
        dicom: otherPatient,
        patientId: 'P-1001',
        link: verified,
        override: overrideOf(decision, by, otherPatient),
        now,
      }),
    ).toMatchObject({ status: 'mismatch', overridden: true, override: { fields: ['patientId'] } });
  });

  describe('the PatientID issued by another assigning authority (IssuerOfPatientID against PATIENT_ID_ISSUER)', () => {
    const foreign = { ...file, issuerOfPatientId: 'CLINIC-B' };
    const issuerMismatch = {
      field: 'patientId',
      file: 'P-1001 (issuer CLINIC-B)',
      expected: 'P-1001 (issuer HOSPITAL-A)',
      source: 'metadata',
      hint: 'other_issuer',
    };

    it('is a patientId mismatch as another id is, even with no Patient Service; our issuer or none is consistent', () => {
      for (const link of [verified, { status: 'unchecked' } as Link]) {
        const got = decideIdentity({ dicom: foreign, patientId: 'P-1001', issuer: 'HOSPITAL-A', link, now });
        expect(got).toMatchObject({ status: 'mismatch', fields: [issuerMismatch], overridden: false });
      }
      expect(
        decideIdentity({
          dicom: { ...file, issuerOfPatientId: 'hospital-a' },
          patientId: 'P-1001',
          issuer: 'HOSPITAL-A',
          link: verified,
          now,
        }),
      ).toMatchObject({ status: 'consistent', fields: [] });
      // No issuer configured: today's behaviour, whatever the file says.
      expect(decideIdentity({ dicom: foreign, patientId: 'P-1001', link: verified, now })).toMatchObject({
        status: 'consistent',
        fields: [],
      });
    });

    it('an identityOverride naming patientId covers it; keep_chosen_patient for an id that reads as ours does not (the edge compares ids alone)', () => {
      const identityOverride = {
        fields: ['patientId' as const],
        reason: 'Transferred from the clinic, same person',
        decidedAt: '2026-11-27T08:20:00Z',
      };
      const metadata = { capturedAt: '2026-11-27T08:15:00Z', patientId: 'P-1001' };
      const explicit = overrideOf({ ...metadata, identityOverride }, by, foreign);
      expect(
        decideIdentity({
          dicom: foreign,
          patientId: 'P-1001',
          issuer: 'HOSPITAL-A',
          link: verified,
          override: explicit,
          now,
        }),
      ).toMatchObject({ status: 'mismatch', overridden: true, fields: [issuerMismatch] });

      // Sent because P-1001 was not on the device's roster: nobody decided about the clinic's id.
      const decision = {
        ...metadata,
        patientDecision: 'keep_chosen_patient' as const,
        patientDecisionReason: 'Not on roster',
      };
      expect(overrideOf(decision, by, foreign)).toBeUndefined();
      expect(
        decideIdentity({
          dicom: foreign,
          patientId: 'P-1001',
          issuer: 'HOSPITAL-A',
          link: verified,
          override: overrideOf(decision, by, foreign),
          now,
        }),
      ).toMatchObject({ status: 'mismatch', overridden: false });

      // A decision about another id of another authority covers the one patientId mismatch.
      const otherId = { ...foreign, patientId: 'P-1003' };
      expect(
        decideIdentity({
          dicom: otherId,
          patientId: 'P-1001',
          issuer: 'HOSPITAL-A',
          link: verified,
          override: overrideOf(decision, by, otherId),
          now,
        }),
      ).toMatchObject({
        status: 'mismatch',
        overridden: true,
        fields: [{ field: 'patientId', file: 'P-1003 (issuer CLINIC-B)', hint: 'other_issuer' }],
      });
    });
  });
});
