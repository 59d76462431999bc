// Independent attack on the edge app's IssuerOfPatientID hold (commit dec7525): what the paramedic
// reads when a file's issuer is odd (bidi controls, invisible characters, very long), a multi-valued
// issuer as the server reads it, a cached /edge-config from an older server, and non-DICOM captures.
import type { Roster } from '@xray/shared';
import { makeDicom, makeJpeg, makePng } from '@xray/testkit';
import { describe, expect, it } from 'vitest';
import { serverConfigSource } from '../config/server-config.ts';
import type { CaptureService } from './capture.service.ts';
import { captureReceivedDicom } from './dicom-intake.ts';
import { readHead } from './file-check.ts';
import { checkPatient, holdMessage, identityOverrideFor } from './patient-check.ts';

const roster: Roster = {
  generatedAt: '2026-12-06T10:00:00Z',
  patients: [{ id: 'P-1001', name: 'Maria Keller', birthDate: '1957-03-14' }],
  consultations: [],
};
const keller = { patientId: 'P-1001', patientName: 'KELLER^MARIA', patientBirthDate: '19570314' };
const OURS = 'HOSPITAL-A';

/** Characters that make text read otherwise than stored, or hide it (as the server's input rules refuse them). */
const HIDING = new RegExp(
  String.raw`[\x00-\x1F\x7F-\x9F\u061C\u200B\u200E\u200F\u2028\u2029\u202A-\u202E\u2060-\u206F\uFEFF]`,
  'u',
);

describe('attack: the issuer hold as the paramedic reads it', () => {
  it('an issuer made of bidi controls cannot make the message read "issued by HOSPITAL-A"', () => {
    // Displayed, U+202E…U+202C reverses "A-LATIPSOH" into "HOSPITAL-A": the hold would read
    // "issued by HOSPITAL-A, not by this hospital (HOSPITAL-A)".
    const spoofs = ['\u202EA-LATIPSOH\u202C', '\u2067A-LATIPSOH\u2069', 'CLINIC\u200B-B', '\u202E'];
    for (const issuer of spoofs) {
      const check = checkPatient({
        chosenId: 'P-1001',
        file: { ...keller, issuerOfPatientId: issuer },
        roster,
        issuer: OURS,
      });
      // The hold stands (the server flags it the same way) ...
      expect(
        check.holds.map((h) => h.code),
        JSON.stringify(issuer),
      ).toEqual(['file_issuer_differs']);
      // ... and what it says is what is stored, visibly.
      const text = check.holds.map(holdMessage).join(' ');
      expect(HIDING.test(text), `${JSON.stringify(issuer)} → ${JSON.stringify(text)}`).toBe(false);
    }
  });

  it('a very long issuer is named whole and still holds; the override names patientId only', () => {
    const issuer = 'X'.repeat(2_000);
    const check = checkPatient({
      chosenId: 'P-1001',
      file: { ...keller, issuerOfPatientId: issuer },
      roster,
      issuer: OURS,
    });
    expect(check.holds.map((h) => h.code)).toEqual(['file_issuer_differs']);
    expect(holdMessage(check.holds[0]!)).toContain(issuer);
    expect(
      identityOverrideFor(check, { choice: 'keep_chosen_patient', reason: 'Transferred' }, '2026-12-07T10:00:00Z'),
    ).toEqual({
      identityOverride: { fields: ['patientId'], reason: 'Transferred', decidedAt: '2026-12-07T10:00:00Z' },
    });
    // No reason, or a blank one: nothing overridden.
    expect(
      identityOverrideFor(check, { choice: 'keep_chosen_patient', reason: '   ' }, '2026-12-07T10:00:00Z'),
    ).toEqual({});
  });

  it('a multi-valued issuer (HOSPITAL-A\\CLINIC-B), read from the file as the server reads it, is held', async () => {
    const bytes = makeDicom({ rows: 8, columns: 8, seed: 71, ...keller, issuerOfPatientId: 'HOSPITAL-A\\CLINIC-B' });
    const head = await readHead(new File([new Uint8Array(bytes)], 'x.dcm'));
    expect(head?.dicom?.issuerOfPatientId).toBe('HOSPITAL-A\\CLINIC-B');
    const check = checkPatient({ chosenId: 'P-1001', file: head?.dicom, roster, issuer: OURS });
    expect(check.holds.map((h) => h.code)).toEqual(['file_issuer_differs']);
  });

  it('PNG and JPEG captures are never held for an issuer (nothing to read one from)', async () => {
    for (const [name, bytes] of [
      ['x.png', makePng({ width: 4, height: 4, seed: 1 })],
      ['x.jpg', makeJpeg({ width: 4, height: 4, seed: 2 })],
    ] as const) {
      const head = await readHead(new File([new Uint8Array(bytes)], name));
      expect(head?.dicom, name).toBeUndefined();
      expect(checkPatient({ chosenId: 'P-1001', file: head?.dicom, roster, issuer: OURS }).holds, name).toEqual([]);
    }
  });

  it('the detector (C-STORE) path names an odd issuer visibly too', async () => {
    const bytes = makeDicom({ rows: 8, columns: 8, seed: 72, ...keller, issuerOfPatientId: '\u202EA-LATIPSOH\u202C' });
    const holds: unknown[] = [];
    const capture: CaptureService['capture'] = (_f, _m, opts) => {
      holds.push(opts?.hold);
      return Promise.resolve({} as Awaited<ReturnType<CaptureService['capture']>>);
    };
    await captureReceivedDicom(
      capture,
      { bytes, sopInstanceUid: '1.2.9', callingAeTitle: 'DET' },
      {
        roster: () => roster,
        patientIdIssuer: () => OURS,
      },
    );
    const hold = holds[0] as { code: string; message: string } | undefined;
    expect(hold?.code).toBe('patient_check');
    expect(HIDING.test(hold?.message ?? ''), JSON.stringify(hold?.message)).toBe(false);
  });

  it('/edge-config cached offline: an older server’s (no issuer) compares ids alone; a newer one’s holds', () => {
    const base = { oidc: { issuer: null, audience: 'xray-api' }, patientServiceUrl: null, maxUploadBytes: 1024 };
    const source = (cached: unknown) => {
      const store = new Map([['xray-edge.server-config:https://s.example', JSON.stringify(cached)]]);
      return serverConfigSource({
        serverUrl: 'https://s.example',
        storage: { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => void store.set(k, v) },
      });
    };
    const file = { ...keller, issuerOfPatientId: 'CLINIC-B' };
    const older = source(base).current();
    expect(older.patientIdIssuer).toBeUndefined();
    expect(checkPatient({ chosenId: 'P-1001', file, roster, issuer: older.patientIdIssuer }).holds).toEqual([]);
    const newer = source({ ...base, patientIdIssuer: OURS }).current();
    expect(
      checkPatient({ chosenId: 'P-1001', file, roster, issuer: newer.patientIdIssuer }).holds.map((h) => h.code),
    ).toEqual(['file_issuer_differs']);
  });
});
