import { makePng } from '@xray/testkit';
import { XraySchema, type Identity } from '@xray/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityCheckCommand } from '../src/cli/identity-check.command.ts';
import { startDevPatientService, type DevPatientService } from '../src/dev/patient-service.ts';
import {
  actorCalls,
  blobOf,
  headerActor,
  postXray,
  startTestServer,
  validMetadata,
  type TestServer,
} from './harness.ts';
import { runCommand as run } from './command.support.ts';
import { DEMOGRAPHICS, identityDicoms, KELLER } from './identity.support.ts';

const PARAMEDIC = 'para-idcheck; paramedic';
const DOCTOR = 'doc-idcheck; doctor';

/** The identity of an X-ray stored before identity was checked (migration 1732680012000_identity.sql). */
const NOT_CHECKED = { status: 'unknown', fields: [], compared: [], reason: 'not_checked', overridden: false };

/**
 * `xray-admin identity-check` against the real server's database and store and the dev Patient
 * Service over HTTP (P-1001 is Maria Keller): X-rays stored normally, then set back by SQL to the
 * identity an X-ray stored before the check existed has (unknown, not_checked), are checked as
 * ingest checks them.
 */
describe('xray-admin identity-check', () => {
  let patients: DevPatientService;
  let server: TestServer;
  const dicom = identityDicoms(21_000);
  const ids = { consistent: '', mismatch: '', png: '' };

  beforeAll(async () => {
    patients = await startDevPatientService({ port: 0 });
    server = await startTestServer(
      'fs',
      {
        PATIENT_SERVICE_URL: patients.url,
        PATIENT_SERVICE_TIMEOUT_MS: '1000',
        PATIENT_SERVICE_RETRIES: '0',
        PATIENT_CACHE_TTL_MS: '0',
      },
      { authenticate: headerActor },
    );
    const store = async (file: Buffer) => {
      const res = await postXray(server.url, validMetadata({ patientId: 'P-1001' }), blobOf(file), {
        'X-Test-Actor': PARAMEDIC,
      });
      expect(res.status, await res.clone().text()).toBe(201);
      return XraySchema.parse(await res.json()).id;
    };
    ids.consistent = await store(dicom({ ...KELLER, patientName: 'Keller^María' }));
    // The Patient Service's record names Maria Keller; the file another patient.
    ids.mismatch = await store(dicom({ ...KELLER, patientName: 'DOE^JOHN' }));
    ids.png = await store(makePng({ seed: 21_500, width: 8, height: 8 }));
    // As an X-ray stored before the check existed (or recovered from such a record): never checked,
    // and no event of its check.
    await server.pool.query(`UPDATE xrays SET identity = $1 WHERE id = ANY($2::uuid[])`, [
      JSON.stringify(NOT_CHECKED),
      Object.values(ids),
    ]);
    await server.pool.query(`DELETE FROM outbox_events WHERE type = 'xray.identity_mismatch'`);
  });
  afterAll(async () => {
    await server?.close();
    await patients?.stop();
  });

  const { read } = actorCalls(() => server, DOCTOR);
  const rowsOf = async (xrayIds: string[]) =>
    (
      await server.pool.query<{ id: string; identity: Identity; change_seq: string }>(
        'SELECT id, identity, change_seq FROM xrays WHERE id = ANY($1::uuid[]) ORDER BY id',
        [xrayIds],
      )
    ).rows;
  const checkAudits = async () =>
    (
      await server.pool.query<{ xray_id: string; actor_sub: string; details: Record<string, unknown> }>(
        `SELECT xray_id, actor_sub, details FROM audit_events
          WHERE action = 'xray.update' AND details->>'cause' = 'identity_check' ORDER BY id`,
      )
    ).rows;
  const mismatchEvents = async () =>
    (
      await server.pool.query<{ xray_id: string; payload: Record<string, unknown> }>(
        `SELECT xray_id, payload FROM outbox_events WHERE type = 'xray.identity_mismatch' ORDER BY seq`,
      )
    ).rows;

  it('a Patient Service outage leaves the DICOM X-rays not_checked, names them, and exits 1', async () => {
    const dicomIds = [ids.consistent, ids.mismatch];
    const before = await rowsOf(dicomIds);
    expect(before.map((r) => r.identity)).toEqual([NOT_CHECKED, NOT_CHECKED]);
    // A Patient Service that no longer answers (its port closed) in the command's settings.
    const gone = await startDevPatientService({ port: 0 });
    await gone.stop();
    const result = await run(identityCheckCommand, [], { ...server.env, PATIENT_SERVICE_URL: gone.url });
    expect(result.code).toBe(1);
    // The PNG needs no Patient Service: it names no patient, as at ingest.
    expect(result.stdout).toBe('Checked 1 X-ray(s): 0 consistent, 0 mismatch, 1 unknown; 2 failed.');
    expect(result.stderr.split('\n').sort()).toEqual(
      dicomIds.map((id) => `${id}: the Patient Service did not answer; its identity stays not_checked`).sort(),
    );
    // Unchanged: identity and change-feed number; no audit event, no event of theirs.
    expect(await rowsOf(dicomIds)).toEqual(before);
    expect((await checkAudits()).map((a) => a.xray_id)).toEqual([ids.png]);
    expect(await mismatchEvents()).toEqual([]);
    expect((await read(ids.png)).identity).toMatchObject({ status: 'unknown', reason: 'not_dicom', fields: [] });
  });

  it('--dry-run decides and writes nothing', async () => {
    const before = await rowsOf([ids.consistent, ids.mismatch]);
    const result = await run(identityCheckCommand, ['--dry-run'], server.env);
    expect(result).toEqual({
      code: 0,
      stdout: [
        'Would check 2 X-ray(s): 1 consistent, 1 mismatch, 0 unknown; 0 failed. (dry run: nothing written)',
        `${ids.mismatch}: mismatch (patientName)`,
      ].join('\n'),
      stderr: '',
    });
    expect(await rowsOf([ids.consistent, ids.mismatch])).toEqual(before);
    expect(await mismatchEvents()).toEqual([]);
  });

  it('checks the rest as ingest does: the result, its change-feed entry, audit event and mismatch event; a second run checks nothing', async () => {
    const before = await rowsOf([ids.consistent, ids.mismatch]);
    const result = await run(identityCheckCommand, [], server.env);
    expect(result).toEqual({
      code: 0,
      stdout: [
        'Checked 2 X-ray(s): 1 consistent, 1 mismatch, 0 unknown; 0 failed.',
        `${ids.mismatch}: mismatch (patientName)`,
      ].join('\n'),
      stderr: '',
    });
    expect(result.stdout).not.toMatch(DEMOGRAPHICS);

    // The resource as clients read it.
    const consistent = await read(ids.consistent);
    expect(consistent.identity).toMatchObject({ status: 'consistent', fields: [] });
    expect(consistent.identity.compared).toEqual(
      expect.arrayContaining(['patientId', 'patientName', 'patientBirthDate', 'patientSex']),
    );
    const mismatch = await read(ids.mismatch);
    expect(mismatch.identity).toMatchObject({
      status: 'mismatch',
      overridden: false,
      fields: [{ field: 'patientName', file: 'DOE^JOHN', expected: 'Maria Keller' }],
    });

    // In the change feed: a new number for each, an `updated` change.
    const after = await rowsOf([ids.consistent, ids.mismatch]);
    after.forEach((r, i) => expect(Number(r.change_seq)).toBeGreaterThan(Number(before[i]!.change_seq)));
    const changes = await server.pool.query<{ xray_id: string; kind: string; actor_sub: string | null }>(
      `SELECT xray_id, kind, actor_sub FROM xray_changes WHERE seq = ANY($1::bigint[]) ORDER BY xray_id`,
      [after.map((r) => r.change_seq)],
    );
    expect(changes.rows).toEqual(
      after
        .map((r) => ({ xray_id: r.id, kind: 'updated', actor_sub: null }))
        .sort((a, b) => (a.xray_id < b.xray_id ? -1 : 1)),
    );

    // The mismatch event, as ingest commits it: field names, no demographics.
    const events = await mismatchEvents();
    expect(events.map((e) => e.xray_id)).toEqual([ids.mismatch]);
    expect(events[0]!.payload).toMatchObject({
      type: 'xray.identity_mismatch',
      data: { fields: ['patientName'], overridden: false, cause: 'identity_check' },
    });
    expect(JSON.stringify(events[0]!.payload)).not.toMatch(DEMOGRAPHICS);

    // Audited as a system change: status and field names before and after, no values.
    const audits = (await checkAudits()).filter((a) => a.xray_id !== ids.png);
    expect(audits.map((a) => a.xray_id).sort()).toEqual([ids.consistent, ids.mismatch].sort());
    const auditOf = (id: string) => audits.find((a) => a.xray_id === id);
    expect(auditOf(ids.mismatch)).toMatchObject({
      actor_sub: 'xray-admin identity-check',
      details: {
        before: { identity: { status: 'unknown', fields: [] } },
        after: { identity: { status: 'mismatch', fields: ['patientName'], overridden: false } },
      },
    });
    expect(auditOf(ids.consistent)?.details).toMatchObject({ after: { identity: { status: 'consistent' } } });
    expect(JSON.stringify(audits)).not.toMatch(DEMOGRAPHICS);

    // Idempotent: nothing left to check, nothing written.
    const again = await run(identityCheckCommand, [], server.env);
    expect(again).toEqual({
      code: 0,
      stdout: 'Checked 0 X-ray(s): 0 consistent, 0 mismatch, 0 unknown; 0 failed.',
      stderr: '',
    });
    expect(await rowsOf([ids.consistent, ids.mismatch])).toEqual(after);
    expect(await mismatchEvents()).toHaveLength(1);
  });
});
