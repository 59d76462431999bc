// Second independent attack on PATIENT_ID_ISSUER (commit dec7525): the link rule honouring an
// identityOverride naming patientId, `xray-admin identity-check` re-deciding other authorities'
// X-rays (idempotence, recovery records, unreadable objects, PNGs), and what DICOMweb shows of a
// file that already carries OtherPatientIDsSequence.
import { open } from 'node:fs/promises';
import path from 'node:path';
import { XraySchema, type Xray } from '@xray/shared';
import { makePng } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityCheckCommand } from '../src/cli/identity-check.command.ts';
import { startDevPatientService, type DevPatientService } from '../src/dev/patient-service.ts';
import { readRecord, recordDiffers, writeRecord } from '../src/xrays/xray-record.ts';
import { xrayRepository } from '../src/xrays/xray.repository.ts';
import {
  actorCalls,
  blobOf,
  headerActor,
  postXray,
  startTestServer,
  validMetadata,
  type MetadataInput,
  type TestServer,
} from './harness.ts';
import { identityDicoms, KELLER } from './identity.support.ts';

const PARAMEDIC = 'atk2-iss-para; paramedic';
const DOCTOR = 'atk2-iss-doc; doctor';
const OURS = 'HOSPITAL-A';
const decidedAt = '2026-11-27T08:20:00Z';

async function run(args: string[], env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await identityCheckCommand.run(args, { out: (l) => out.push(l), err: (l) => err.push(l), env });
  return { code, out, err };
}

/** One explicit-VR little-endian element (short or long length form by VR), padded to even length. */
function element(group: number, elem: number, vr: string, value: Buffer): Buffer {
  const v = value.length % 2 ? Buffer.concat([value, Buffer.from(vr === 'UI' ? '\0' : ' ')]) : value;
  const long = ['OB', 'OW', 'UN', 'UT', 'UC', 'UR', 'SQ'].includes(vr);
  const h = Buffer.alloc(long ? 12 : 8);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(elem, 2);
  h.write(vr, 4, 'latin1');
  if (long) h.writeUInt32LE(v.length, 8);
  else h.writeUInt16LE(v.length, 6);
  return Buffer.concat([h, v]);
}

/** OtherPatientIDsSequence (0010,1002) of (id, issuer) items, defined lengths. */
function otherIds(pairs: [string, string][]): Buffer {
  const items = pairs.map(([id, issuer]) => {
    const body = Buffer.concat([
      element(0x10, 0x20, 'LO', Buffer.from(id)),
      element(0x10, 0x21, 'LO', Buffer.from(issuer)),
    ]);
    const tag = Buffer.alloc(8);
    tag.writeUInt16LE(0xfffe, 0);
    tag.writeUInt16LE(0xe000, 2);
    tag.writeUInt32LE(body.length, 4);
    return Buffer.concat([tag, body]);
  });
  return element(0x10, 0x1002, 'SQ', Buffer.concat(items));
}

/** `file` with `extra` inserted right after its IssuerOfPatientID element (value `issuer`, even length). */
function afterIssuer(file: Buffer, issuer: string, extra: Buffer): Buffer {
  const marker = element(0x10, 0x21, 'LO', Buffer.from(issuer));
  const at = file.indexOf(marker);
  if (at < 0) throw new Error('issuer element not found');
  const end = at + marker.length;
  return Buffer.concat([file.subarray(0, end), extra, file.subarray(end)]);
}

/** Every outbox type, audit detail and change-feed row committed for the X-ray. */
async function trail(server: TestServer, id: string) {
  const ev = await server.pool.query<{ type: string; payload: unknown }>(
    'SELECT type, payload FROM outbox_events WHERE xray_id = $1 ORDER BY seq',
    [id],
  );
  const au = await server.pool.query<{ action: string; details: unknown }>(
    'SELECT action, details FROM audit_events WHERE xray_id = $1 ORDER BY id',
    [id],
  );
  const ch = await server.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM xray_changes WHERE xray_id = $1', [
    id,
  ]);
  return {
    types: ev.rows.map((r) => r.type),
    events: JSON.stringify(ev.rows.map((r) => r.payload)),
    audit: JSON.stringify(au.rows.map((r) => r.details)),
    audits: au.rows.length,
    changes: ch.rows[0]?.n ?? 0,
  };
}

describe('attack 2: an override naming patientId, with PATIENT_ID_ISSUER=HOSPITAL-A', () => {
  let patients: DevPatientService;
  let server: TestServer;
  const dicom = identityDicoms(61_000);

  beforeAll(async () => {
    patients = await startDevPatientService({ port: 0 });
    server = await startTestServer(
      'fs',
      { PATIENT_SERVICE_URL: patients.url, PATIENT_CACHE_TTL_MS: '0', PATIENT_ID_ISSUER: OURS },
      { authenticate: headerActor },
    );
  });
  afterAll(async () => {
    await server?.close();
    await patients?.stop();
  });

  const { call, read } = actorCalls(() => server, DOCTOR);
  const post = async (file: Buffer, over: MetadataInput = {}): Promise<Response> =>
    postXray(server.url, validMetadata(over), blobOf(file), { 'X-Test-Actor': PARAMEDIC });
  const posted = async (file: Buffer, over: MetadataInput = {}): Promise<Xray> => {
    const res = await post(file, over);
    expect(res.status, await res.clone().text()).toBe(201);
    return XraySchema.parse(await res.json());
  };
  const patch = async (id: string, body: Record<string, unknown>): Promise<Xray> => {
    const res = await call(`/xrays/${id}`, PARAMEDIC, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    return XraySchema.parse(await res.json());
  };

  it('keep + override(patientId): verified, overridden, decision and who decided shown; moved away and back it does not carry over', async () => {
    const x = await posted(dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' }), {
      patientDecision: 'keep_chosen_patient',
      patientDecisionReason: 'Transferred, same person',
      identityOverride: { fields: ['patientId'], reason: 'Transferred, same person', decidedAt },
    });
    const shown = await read(x.id);
    expect(shown.link).toMatchObject({
      status: 'verified',
      decision: { choice: 'keep_chosen_patient', reason: 'Transferred, same person' },
    });
    expect(shown.identity).toMatchObject({
      status: 'mismatch',
      overridden: true,
      fields: [{ field: 'patientId', hint: 'other_issuer' }],
      // Who decided: the signed-in uploader, whatever the device might claim.
      override: { fields: ['patientId'], from: 'identity_override', by: { sub: 'atk2-iss-para' } },
    });
    const created = await trail(server, x.id);
    expect(created.audit).toContain('atk2-iss-para');
    expect(created.audit).toContain('identity_override');
    expect(created.events).not.toContain('CLINIC-B');
    expect(created.audit).not.toContain('CLINIC-B');
    // The Doctor Service learns it too: a mismatch, overridden, and by whom.
    const { rows } = await server.pool.query<{ payload: { data: Record<string, unknown> } }>(
      `SELECT payload FROM outbox_events WHERE xray_id = $1 AND type = 'xray.identity_mismatch'`,
      [x.id],
    );
    expect(rows.map((r) => r.payload.data)).toEqual([
      expect.objectContaining({
        fields: ['patientId'],
        overridden: true,
        override: expect.objectContaining({ by: { sub: 'atk2-iss-para' }, fields: ['patientId'] }),
      }),
    ]);

    // The consultation alone (same patient): the decision stays.
    expect((await patch(x.id, { consultationId: 'C-2001' })).link.status).toBe('verified');
    const away = await patch(x.id, { patientId: 'P-1002', consultationId: null });
    expect(away.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
    expect(away.link.decision).toBeUndefined();
    expect(away.identity.override).toBeUndefined();
    const back = await patch(x.id, { patientId: 'P-1001' });
    expect(back.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
    expect(back.identity).toMatchObject({ status: 'mismatch', overridden: false });
    expect(back.identity.override).toBeUndefined();
  });

  it('an override naming patientId without keep_chosen_patient (none, or use_file_patient) never makes the link verified', async () => {
    const foreign = () => dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' });
    const override = { fields: ['patientId'], reason: 'Transferred, same person', decidedAt };
    const bare = await posted(foreign(), { identityOverride: override });
    expect(bare.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
    const useFile = await posted(foreign(), { patientDecision: 'use_file_patient', identityOverride: override });
    expect(useFile.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
    // keep_chosen_patient with an override of other fields only: the id is decided by nobody.
    const nameOnly = await posted(foreign(), {
      patientDecision: 'keep_chosen_patient',
      patientDecisionReason: 'Married name',
      identityOverride: { fields: ['patientName', 'patientSex'], reason: 'Married name', decidedAt },
    });
    expect(nameOnly.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
  });

  it('a reason a doctor cannot read (blank-looking characters only) does not buy a verified link for another authority’s patient', async () => {
    // Each passes trim() and the control/invisible filter, yet shows as nothing: Hangul filler,
    // braille blank, soft hyphen, Hangul choseong/jungseong fillers.
    const blanks = ['\u3164\u3164\u3164', '\u2800\u2800\u2800', '\u00AD\u00AD\u00AD', '\u115F\u1160\u115F'];
    const outcomes: Record<string, string> = {};
    for (const reason of blanks) {
      const res = await post(dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' }), {
        patientDecision: 'keep_chosen_patient',
        patientDecisionReason: reason,
        identityOverride: { fields: ['patientId'], reason, decidedAt },
      });
      const body = (await res.json()) as { link?: { status: string } };
      outcomes[JSON.stringify(reason)] = res.status === 201 ? `201 ${body.link?.status}` : String(res.status);
    }
    expect(outcomes).toEqual(Object.fromEntries(blanks.map((b) => [JSON.stringify(b), '400'])));
  });

  it('DICOMweb: a file already listing (P-1001, CLINIC-B) in OtherPatientIDsSequence keeps its items, without a duplicate', async () => {
    const file = afterIssuer(
      dicom({ patientId: 'P-1001', patientName: 'KELLER^MARIA', issuerOfPatientId: 'CLINIC-B' }),
      'CLINIC-B',
      otherIds([
        ['MRN-77', 'CITY-LAB'],
        ['P-1001', 'CLINIC-B'],
      ]),
    );
    const x = await posted(file);
    expect(x.identity).toMatchObject({ status: 'mismatch', fields: [{ hint: 'other_issuer' }] });
    const { studyInstanceUid: st, seriesInstanceUid: se, sopInstanceUid: sop } = x.dicom ?? {};
    const meta = await call(`/dicom-web/studies/${st}/series/${se}/instances/${sop}/metadata`, DOCTOR, {
      headers: { Accept: 'application/dicom+json' },
    });
    expect(meta.status).toBe(200);
    const [m] = (await meta.json()) as Record<string, { Value?: Record<string, { Value?: string[] }>[] }>[];
    const pairs = (m?.['00101002']?.Value ?? []).map(
      (i) => `${i['00100020']?.Value?.[0]}|${i['00100021']?.Value?.[0]}`,
    );
    expect(m?.['00100021']).toBeUndefined();
    expect(pairs).toEqual(['MRN-77|CITY-LAB', 'P-1001|CLINIC-B']);

    const qido = await call(
      `/dicom-web/studies/${st}/series/${se}/instances?includefield=00101002&includefield=00100021`,
      DOCTOR,
      { headers: { Accept: 'application/dicom+json' } },
    );
    expect(qido.status).toBe(200);
    const [q] = (await qido.json()) as Record<string, { Value?: Record<string, { Value?: string[] }>[] }>[];
    const qPairs = (q?.['00101002']?.Value ?? []).map(
      (i) => `${i['00100020']?.Value?.[0]}|${i['00100021']?.Value?.[0]}`,
    );
    expect(q?.['00100021']).toBeUndefined();
    expect(qPairs).toEqual(['MRN-77|CITY-LAB', 'P-1001|CLINIC-B']);
  });

  it('QIDO: IssuerOfPatientID as a query key is not silently taken as matched', async () => {
    const x = await posted(dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' }));
    const st = x.dicom?.studyInstanceUid;
    const res = await call(`/dicom-web/studies?StudyInstanceUID=${st}&IssuerOfPatientID=${OURS}`, DOCTOR, {
      headers: { Accept: 'application/dicom+json' },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, { Value?: unknown[] }>[];
    expect(body).toHaveLength(1);
    // The key is not matched on, and the answer says so; the study is still told apart as the
    // clinic's (set aside in OtherPatientIDsSequence, identity mismatch said).
    const warning = res.headers.get('warning') ?? '';
    expect(warning).toMatch(/IssuerOfPatientID is not supported: ignored/);
    expect(warning).toMatch(/Patient identity status mismatch/);
    expect(body[0]?.['00100021']).toBeUndefined();
    expect(JSON.stringify(body[0]?.['00101002'])).toContain('CLINIC-B');
  });
});

describe('attack 2: identity-check over another authority’s X-rays', () => {
  let patients: DevPatientService;
  let plain: TestServer;
  const dicom = identityDicoms(62_000);
  let env: Record<string, string>;

  beforeAll(async () => {
    patients = await startDevPatientService({ port: 0 });
    plain = await startTestServer(
      'fs',
      { PATIENT_SERVICE_URL: patients.url, PATIENT_CACHE_TTL_MS: '0' },
      { authenticate: headerActor },
    );
    env = { ...plain.env, PATIENT_ID_ISSUER: OURS };
  });
  afterAll(async () => {
    await plain?.close();
    await patients?.stop();
  });

  const { read } = actorCalls(() => plain, DOCTOR);
  /** Takes every X-ray stored so far out of the command's reach (as if already decided for this issuer). */
  async function settleOthers(): Promise<void> {
    await plain.pool.query(
      `UPDATE xrays SET dicom = jsonb_set(dicom, '{issuerOfPatientId}', to_jsonb($1::text)) WHERE content_type = 'application/dicom'`,
      [OURS],
    );
  }
  async function store(file: Buffer | Uint8Array): Promise<Xray> {
    const res = await postXray(plain.url, validMetadata(), blobOf(file), { 'X-Test-Actor': PARAMEDIC });
    expect(res.status, await res.clone().text()).toBe(201);
    return XraySchema.parse(await res.json());
  }

  it('run twice: the second run writes nothing (no event, audit or change entry), and no issuer value is written to events or audit', async () => {
    await settleOthers();
    const x = await store(dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' }));
    const first = await run([], env);
    expect(first).toMatchObject({
      code: 0,
      out: [expect.stringMatching(/^Checked 1 X-ray/), `${x.id}: mismatch (patientId)`],
    });
    const once = await trail(plain, x.id);
    const second = await run(['--recheck-issuers'], env);
    expect(second.code).toBe(0);
    expect(second.out[0]).toMatch(/^Checked 0 X-ray/);
    expect(await trail(plain, x.id)).toEqual(once);
    expect(once.events).not.toContain('CLINIC-B');
    expect(once.audit).not.toContain('CLINIC-B');
    expect((await read(x.id)).link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
  });

  it('recording the file’s issuer in an old row keeps its recovery record current (no record_stale for xray-admin recover)', async () => {
    await settleOthers();
    const x = await store(dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' }));
    // As written before issuers were recorded: the row and its recovery record without the issuer.
    await plain.pool.query(`UPDATE xrays SET dicom = dicom - 'issuerOfPatientId' WHERE id = $1`, [x.id]);
    const old = (await xrayRepository.findById(plain.pool, x.id))!;
    await writeRecord(plain.store, plain.keys, old);
    expect(recordDiffers((await readRecord(plain.store, plain.keys, old.objectKey))!, old)).toEqual([]);

    const result = await run(['--recheck-issuers'], env);
    expect(result.code).toBe(0);
    const row = (await xrayRepository.findById(plain.pool, x.id))!;
    expect(row.dicom?.issuerOfPatientId).toBe('CLINIC-B');
    const record = (await readRecord(plain.store, plain.keys, row.objectKey))!;
    expect(recordDiffers(record, row), 'the recovery record must follow the row (finalize, PATCH do)').toEqual([]);
  });

  it('an unreadable stored object of another authority is reported (exit 1) and left as it was; the next one is still decided', async () => {
    await settleOthers();
    const broken = await store(dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' }));
    const fine = await store(dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-C' }));
    const brokenRow = (await xrayRepository.findById(plain.pool, broken.id))!;
    const storage = plain.config.storage;
    if (storage.kind !== 'fs') throw new Error('this case needs the disk store');
    const fh = await open(path.join(storage.dir, brokenRow.objectKey), 'r+');
    try {
      await fh.write(Buffer.alloc(64, 0xa5), 0, 64, 40);
    } finally {
      await fh.close();
    }
    const before = await trail(plain, broken.id);
    const result = await run([], env);
    expect(result.code).toBe(1);
    expect(result.err.some((l) => l.startsWith(`${broken.id}: `))).toBe(true);
    expect(result.out).toContain(`${fine.id}: mismatch (patientId)`);
    expect(await trail(plain, broken.id)).toEqual(before);
    const unchanged = await read(broken.id);
    expect({ identity: unchanged.identity.status, link: unchanged.link.status }).toEqual({
      identity: 'consistent',
      link: 'verified',
    });
    expect(result.err.join('\n')).not.toContain('CLINIC-B');
    // Out of the way of the later cases.
    await plain.pool.query(`DELETE FROM xrays WHERE id = $1`, [broken.id]);
  });

  it('PNGs are never read nor held for an issuer; --recheck-issuers without PATIENT_ID_ISSUER is refused (exit 2)', async () => {
    await settleOthers();
    const png = await store(makePng({ width: 4, height: 4, seed: 62_500 }));
    const result = await run(['--recheck-issuers'], env);
    expect(result.code).toBe(0);
    expect(result.out.at(-1)).toMatch(/^Read the header of 0 X-ray/);
    expect((await read(png.id)).identity).toMatchObject({ status: 'unknown', reason: 'not_dicom' });
    const refused = await run(['--recheck-issuers'], plain.env);
    expect(refused.code).toBe(2);
    expect(refused.err.join('\n')).toMatch(/PATIENT_ID_ISSUER is not set/);
  });
});
