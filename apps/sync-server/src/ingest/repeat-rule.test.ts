import { XrayMetadataInputSchema } from '@xray/shared';
import { describe, expect, it } from 'vitest';
import { isDomainError } from '../errors.ts';
import type { XrayRecord } from '../xrays/xray.repository.ts';
import { differingFields, repeatOf } from './repeat-rule.ts';

const record: XrayRecord = {
  id: '6f1c2a9e-3b4d-4e5f-8a6b-7c8d9e0f1a2b',
  patientId: 'P-1001',
  consultationId: null,
  capturedAt: '2026-11-27T08:15:00.000Z',
  capturedBy: { sub: 'medic-1', name: null },
  deviceId: 'tablet-7',
  bodyPart: 'CHEST',
  view: 'PA',
  priority: 'urgent',
  notes: null,
  contentType: 'image/png',
  sizeBytes: 10,
  sha256: 'a'.repeat(64),
  dicom: null,
  link: {
    status: 'invalid',
    reason: 'file_patient_mismatch',
    decision: { choice: 'keep_chosen_patient', reason: 'wristband' },
  },
  identity: { status: 'unknown', fields: [], compared: [], reason: 'not_dicom', overridden: false },
  dicomUidConflict: false,
  uploadedAt: '2026-11-27T08:16:00.000Z',
  changeSeq: 1,
  objectKey: 'xrays/x/o',
  dekWrapped: new Uint8Array(0),
  kekId: 'k',
  previousWrap: null,
  cipherSize: 10,
};
const stored = record;

/** What a client declares, parsed as the doors parse it (trimmed, upper-cased, defaults). */
const declared = (over: Record<string, unknown> = {}) =>
  XrayMetadataInputSchema.parse({
    id: stored.id,
    patientId: 'P-1001',
    capturedAt: '2026-11-27T08:15:00Z',
    deviceId: 'tablet-7',
    bodyPart: 'chest',
    view: 'PA',
    priority: 'urgent',
    patientDecision: 'keep_chosen_patient',
    patientDecisionReason: 'wristband',
    ...over,
  });

describe('the repeat rule', () => {
  it('an exact replay differs in nothing, whatever offset or precision the capture time is written in', () => {
    expect(differingFields(record, declared())).toEqual([]);
    expect(differingFields(record, declared({ capturedAt: '2026-11-27T09:15:00.000+01:00' }))).toEqual([]);
  });

  it('names each declared field that differs, absent and null alike', () => {
    expect(differingFields(record, declared({ notes: 'x', consultationId: 'C-1' }))).toEqual([
      'consultationId',
      'notes',
    ]);
    expect(differingFields(record, declared({ deviceId: undefined, priority: undefined }))).toEqual([
      'deviceId',
      'priority',
    ]);
    expect(differingFields(record, declared({ patientDecision: undefined, patientDecisionReason: undefined }))).toEqual(
      ['patientDecision', 'patientDecisionReason'],
    );
    expect(differingFields(record, declared({ capturedAt: '2026-11-27T08:15:01Z' }))).toEqual(['capturedAt']);
  });

  it('an identity override is a declared detail: the same one (any offset) repeats, another or none does not', () => {
    const override = {
      fields: ['patientName' as const],
      reason: 'Detector kept the last name',
      decidedAt: '2026-11-27T09:14:00+01:00',
    };
    const withOverride: XrayRecord = {
      ...record,
      identity: {
        ...record.identity,
        override: {
          ...override,
          decidedAt: '2026-11-27T08:14:00.000Z',
          by: { sub: 'medic-1', name: null },
          from: 'identity_override',
        },
      },
    };
    expect(differingFields(withOverride, declared({ identityOverride: override }))).toEqual([]);
    expect(differingFields(withOverride, declared())).toEqual(['identityOverride']);
    expect(
      differingFields(withOverride, declared({ identityOverride: { ...override, reason: 'Another reason' } })),
    ).toEqual(['identityOverride']);
    expect(differingFields(record, declared({ identityOverride: override }))).toEqual(['identityOverride']);
  });

  it('one refusal for everything else: another user, other details, other bytes; only the audit details differ', () => {
    const refusal = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        if (isDomainError(err)) return err;
      }
      throw new Error('not refused');
    };
    const owner = { sub: 'medic-1', name: null, roles: ['paramedic'] };
    expect(repeatOf(owner, record, declared(), stored.sha256)).toBe(record);
    const others = refusal(() =>
      repeatOf({ ...owner, sub: 'admin-1', roles: ['admin'] }, record, declared(), stored.sha256),
    );
    const details = refusal(() => repeatOf(owner, record, declared({ view: 'AP' }), stored.sha256));
    const bytes = refusal(() => repeatOf(owner, record, declared(), 'b'.repeat(64)));
    for (const e of [others, details, bytes]) {
      expect(e.code).toBe('conflict');
      expect(e.message).toBe(others.message);
      expect(e.fields).toBeUndefined();
    }
    expect([others.denial, details.denial, bytes.denial]).toEqual(['not_owner', undefined, undefined]);
    expect([details.auditDetails, bytes.auditDetails]).toEqual([{ differs: ['view'] }, { differs: ['content'] }]);
  });
});
