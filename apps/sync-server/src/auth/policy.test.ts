import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors.ts';
import type { Actor } from './actor.ts';
import { authorize, decide, listScope } from './policy.ts';

const actor = (sub: string, ...roles: string[]): Actor => ({ sub, name: null, roles });
const paramedic = actor('p1', 'paramedic');
const doctor = actor('d1', 'doctor');
const admin = actor('a1', 'admin');
const mine = { capturedBy: { sub: 'p1' } };
const theirs = { capturedBy: { sub: 'p2' } };

const codeOf = (f: () => void): string | undefined => {
  try {
    f();
    return undefined;
  } catch (err) {
    if (err instanceof DomainError) return err.code;
    throw err;
  }
};

describe('policy', () => {
  it('paramedics create, and read/download only what they captured (others: 404, not 403)', () => {
    expect(codeOf(() => authorize(paramedic, 'xray.create'))).toBeUndefined();
    for (const action of ['xray.read', 'xray.download'] as const) {
      expect(codeOf(() => authorize(paramedic, action))).toBeUndefined();
      expect(codeOf(() => authorize(paramedic, action, mine))).toBeUndefined();
      expect(codeOf(() => authorize(paramedic, action, theirs))).toBe('not_found');
    }
    expect(codeOf(() => authorize(paramedic, 'xray.delete', mine))).toBe('forbidden');
    expect(codeOf(() => authorize(paramedic, 'audit.read'))).toBe('forbidden');
    expect(codeOf(() => authorize(paramedic, 'outbox.manage'))).toBe('forbidden');
    expect(listScope(paramedic)).toEqual({ capturedBy: 'p1' });
  });

  it('a capture is corrected by its paramedic, any doctor or an admin; not by another paramedic', () => {
    expect(codeOf(() => authorize(paramedic, 'xray.update', mine))).toBeUndefined();
    expect(codeOf(() => authorize(paramedic, 'xray.update', theirs))).toBe('not_found');
    expect(codeOf(() => authorize(doctor, 'xray.update', theirs))).toBeUndefined();
    expect(codeOf(() => authorize(admin, 'xray.update', theirs))).toBeUndefined();
    expect(codeOf(() => authorize(doctor, 'outbox.manage'))).toBe('forbidden');
  });

  it('doctors read, list and download everything; never create or delete', () => {
    for (const action of ['xray.read', 'xray.download'] as const)
      expect(codeOf(() => authorize(doctor, action, theirs))).toBeUndefined();
    expect(listScope(doctor)).toEqual({});
    expect(codeOf(() => authorize(doctor, 'xray.create'))).toBe('forbidden');
    expect(codeOf(() => authorize(doctor, 'xray.delete', theirs))).toBe('forbidden');
  });

  it('admins do everything, including delete and the audit log', () => {
    for (const action of [
      'xray.create',
      'xray.read',
      'xray.list',
      'xray.download',
      'xray.update',
      'xray.delete',
      'audit.read',
      'outbox.manage',
    ] as const)
      expect(codeOf(() => authorize(admin, action, theirs))).toBeUndefined();
    expect(listScope(admin)).toEqual({});
  });

  it("an upload is continued only by its creator; an admin may cancel anyone's; a doctor does neither", () => {
    expect(codeOf(() => authorize(paramedic, 'upload.create'))).toBeUndefined();
    expect(codeOf(() => authorize(paramedic, 'upload.continue', mine))).toBeUndefined();
    expect(codeOf(() => authorize(paramedic, 'upload.continue', theirs))).toBe('not_found');
    expect(codeOf(() => authorize(paramedic, 'upload.terminate', theirs))).toBe('not_found');
    expect(codeOf(() => authorize(admin, 'upload.continue', theirs))).toBe('not_found');
    expect(codeOf(() => authorize(admin, 'upload.terminate', theirs))).toBeUndefined();
    for (const action of ['upload.create', 'upload.continue', 'upload.terminate'] as const)
      expect(codeOf(() => authorize(doctor, action))).toBe('forbidden');
    // The 404 that hides someone else's upload is recorded as a denial, not as a missing upload.
    expect(decide(paramedic, 'upload.continue', theirs)).toMatchObject({
      allowed: false,
      error: { denial: 'not_owner' },
    });
  });

  it('several roles: the widest grant wins; unknown roles grant nothing', () => {
    const both = actor('p1', 'paramedic', 'doctor');
    expect(codeOf(() => authorize(both, 'xray.read', theirs))).toBeUndefined();
    expect(listScope(both)).toEqual({});
    const stranger = actor('x', 'nurse', 'root');
    expect(decide(stranger, 'xray.list')).toMatchObject({ allowed: false, reason: 'role' });
    expect(codeOf(() => listScope(stranger))).toBe('forbidden');
  });
});
