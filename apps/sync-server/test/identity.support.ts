import type { IdentityField, Xray, XrayEvent } from '@xray/shared';
import { makeDicom, type DicomOptions } from '@xray/testkit';
import type pg from 'pg';
import { expect } from 'vitest';
import type { DevDoctorService } from '../src/dev/doctor-service.ts';
import { waitFor } from './integrations.support.ts';
import { encodeMeta } from './tus-client.ts';

/**
 * The identity check at ingest as every door must show it (POST /xrays, tus, STOW-RS): a DICOM
 * made with `tags`, stored under `patientId` of the dev Patient Service (src/dev/patient-service.ts:
 * P-1001 is Maria Keller, born 1957-03-14, female), and what the X-ray's `identity` must then say.
 * A door's test makes the file (`makeDicom({ rows: 16, columns: 16, ...c.tags, seed })`), stores it
 * its own way, and hands the stored X-ray to `expectIdentityOutcome`.
 */
export interface IdentityCase {
  name: string;
  patientId: string;
  tags: Pick<DicomOptions, 'patientId' | 'patientName' | 'patientBirthDate' | 'patientSex'>;
  status: Xray['identity']['status'];
  /** The one field that differs, with what each side says. */
  mismatch?: { field: IdentityField; file: string; expected: string };
  /** For `unknown`: why. */
  reason?: Xray['identity']['reason'];
}

/** Maria Keller's file, as the modality should have written it. */
export const KELLER = {
  patientId: 'P-1001',
  patientName: 'KELLER^MARIA',
  patientBirthDate: '19570314',
  patientSex: 'F',
} as const;

export const IDENTITY_CASES: readonly IdentityCase[] = [
  {
    name: 'consistent (case, accents, order aside)',
    patientId: 'P-1001',
    tags: { ...KELLER, patientName: 'Keller^María' },
    status: 'consistent',
  },
  {
    name: 'PatientID differs',
    patientId: 'P-1001',
    tags: { ...KELLER, patientId: 'P-1003' },
    status: 'mismatch',
    mismatch: { field: 'patientId', file: 'P-1003', expected: 'P-1001' },
  },
  {
    name: 'PatientName differs',
    patientId: 'P-1001',
    tags: { ...KELLER, patientName: 'DOE^JOHN' },
    status: 'mismatch',
    mismatch: { field: 'patientName', file: 'DOE^JOHN', expected: 'Maria Keller' },
  },
  {
    name: 'PatientBirthDate differs',
    patientId: 'P-1001',
    tags: { ...KELLER, patientBirthDate: '19570413' },
    status: 'mismatch',
    mismatch: { field: 'patientBirthDate', file: '19570413', expected: '1957-03-14' },
  },
  {
    name: 'PatientSex differs',
    patientId: 'P-1001',
    tags: { ...KELLER, patientSex: 'M' },
    status: 'mismatch',
    mismatch: { field: 'patientSex', file: 'M', expected: 'female' },
  },
  {
    name: 'unknown: a DICOM without patient tags',
    patientId: 'P-1001',
    tags: { patientId: '', patientName: '' },
    status: 'unknown',
    reason: 'no_patient_tags',
  },
];

/**
 * The cases STOW-RS can show: its metadata's patientId IS the file's PatientID (required), so the
 * PatientID never differs and a file without it is refused; the demographics are what is compared.
 */
export const STOW_IDENTITY_CASES: readonly IdentityCase[] = IDENTITY_CASES.filter(
  (c) => c.mismatch?.field !== 'patientId' && c.tags.patientId,
);

/** Anything of Maria Keller's or of the files' patients that must never appear in an event. */
export const DEMOGRAPHICS = /KELLER|Keller|MAR[IÍ]A|Mar[ií]a|DOE\^JOHN|1957-03-14|19570314|19570413|female|P-1003/;

/** The identity tests' files: 16 × 16 DICOMs with the given patient tags, each its own seed from `firstSeed` on. */
export function identityDicoms(firstSeed: number): (tags: DicomOptions) => Buffer {
  let seed = firstSeed;
  return (tags) => makeDicom({ rows: 16, columns: 16, ...tags, seed: seed++ });
}

/** POST /uploads (tus creation) as `actor`; the response, for the test to judge (201, 400, 409 …). */
export function tusCreateAs(
  baseUrl: string,
  actor: string,
  body: Buffer,
  metadata: Record<string, string>,
): Promise<Response> {
  return fetch(`${baseUrl}/uploads`, {
    method: 'POST',
    headers: {
      'X-Test-Actor': actor,
      'Tus-Resumable': '1.0.0',
      'Upload-Length': String(body.length),
      'Upload-Metadata': encodeMeta(metadata),
    },
  });
}

type IdentityMismatchEvent = Extract<XrayEvent, { type: 'xray.identity_mismatch' }>;

/** Waits for the first `xray.identity_mismatch` about `xrayId` the Doctor Service accepted. */
export async function identityMismatchSent(
  doctor: DevDoctorService,
  xrayId: string,
  label = 'xray.identity_mismatch',
): Promise<IdentityMismatchEvent> {
  const [event] = await waitFor(label, () => {
    const got = doctor
      .accepted()
      .filter((e): e is IdentityMismatchEvent => e.xrayId === xrayId && e.type === 'xray.identity_mismatch');
    return got.length > 0 && got;
  });
  if (!event) throw new Error('no identity event');
  return event;
}

export interface IdentityCheckContext {
  /** GET /xrays/{id} as the door's caller may read it. */
  read(id: string): Promise<Xray>;
  /** The Doctor Service the server's webhook delivers to. */
  doctor: DevDoctorService;
  /** The server's database: the events committed with the X-ray (`server.pool`). */
  pool: Pick<pg.Pool, 'query'>;
}

/**
 * Checks a stored X-ray's identity against its case: on the resource as a client reads it, and,
 * for a mismatch, the `xray.identity_mismatch` event the Doctor Service received: the field
 * named, no demographics in it (nor in any event the outbox holds for it). Otherwise no such
 * event was committed. Returns the X-ray read.
 */
export async function expectIdentityOutcome(ctx: IdentityCheckContext, xrayId: string, c: IdentityCase): Promise<Xray> {
  const { doctor } = ctx;
  const x = await ctx.read(xrayId);
  expect(x.identity.status, `${c.name}: ${JSON.stringify(x.identity)}`).toBe(c.status);
  if (c.status === 'consistent') {
    expect(x.identity.fields).toEqual([]);
    expect(x.identity.compared).toEqual(['patientId', 'patientName', 'patientBirthDate', 'patientSex']);
  }
  if (c.mismatch) expect(x.identity.fields).toEqual([expect.objectContaining(c.mismatch)]);
  if (c.reason) expect(x.identity.reason).toBe(c.reason);
  if (c.status === 'mismatch') {
    const event = await identityMismatchSent(doctor, xrayId, `xray.identity_mismatch for ${c.name}`);
    expect(event.data.fields).toEqual([c.mismatch?.field]);
    expect(event.data.xray.identity).toEqual({ status: 'mismatch', fields: [c.mismatch?.field], overridden: false });
    expect(event.links.self).toMatch(new RegExp(`/xrays/${xrayId}$`));
    expect(JSON.stringify(event)).not.toMatch(DEMOGRAPHICS);
  }
  // What the outbox committed with the X-ray: an identity event exactly for a mismatch, and no
  // event naming the patient.
  const { rows } = await ctx.pool.query<{ type: string; payload: unknown }>(
    'SELECT type, payload FROM outbox_events WHERE xray_id = $1 ORDER BY seq',
    [xrayId],
  );
  expect(rows.filter((r) => r.type === 'xray.identity_mismatch')).toHaveLength(c.status === 'mismatch' ? 1 : 0);
  for (const r of rows) expect(JSON.stringify(r.payload)).not.toMatch(DEMOGRAPHICS);
  return x;
}
