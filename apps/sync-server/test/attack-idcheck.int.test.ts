// Attack on `xray-admin identity-check` (commit 88edfa8), as an operator following README and
// docs/operations.md: X-rays whose stored object is missing or corrupt, a Patient Service answering
// garbage or too slowly, X-rays deleted or corrected while the run is under way, two operators
// running it at once, and whether the result is what ingest would have decided, reaches the event
// consumers, names no patient, and leaves the audit chain verifiable.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { XraySchema, type Identity } from '@xray/shared';
import { makePng } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityCheckCommand } from '../src/cli/identity-check.command.ts';
import { verifyAuditCommand } from '../src/cli/verify-audit.command.ts';
import { startDevPatientService, type DevPatientService } from '../src/dev/patient-service.ts';
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
import { runCommand as run } from './command.support.ts';
import { DEMOGRAPHICS, identityDicoms, KELLER } from './identity.support.ts';
import { runAdmin } from './server-process.ts';

const PARAMEDIC = 'para-aidc; paramedic';
const DOCTOR = 'doc-aidc; doctor';
const ADMIN = 'admin-aidc; admin';

const NOT_CHECKED = { status: 'unknown', fields: [], compared: [], reason: 'not_checked', overridden: false };
/** An identity that takes an X-ray out of the command's reach once its case is done. */
const SETTLED = { status: 'unknown', fields: [], compared: [], reason: 'not_dicom', overridden: false };

type Mode = 'forward' | 'garbage' | 'slow';

/**
 * The Patient Service as the command meets it: the dev one behind a proxy that can answer garbage
 * (200, not JSON), answer too late, or run `onFirst` (a correction, a deletion) before it answers
 * its first request: that is between the command's read of an X-ray and its write.
 */
async function startProxy(target: string) {
  const state: { mode: Mode; onFirst: (() => Promise<void>) | undefined } = { mode: 'forward', onFirst: undefined };
  const server = http.createServer((req, res) => {
    void (async () => {
      const hook = state.onFirst;
      state.onFirst = undefined;
      if (hook) await hook();
      if (state.mode === 'garbage') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('<html>oops</html>');
        return;
      }
      if (state.mode === 'slow') await new Promise((r) => setTimeout(r, 2500));
      const upstream = await fetch(`${target}${req.url ?? ''}`);
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    state,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('attack: xray-admin identity-check', () => {
  let patients: DevPatientService;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let server: TestServer;
  const dicom = identityDicoms(31_000);

  beforeAll(async () => {
    patients = await startDevPatientService({ port: 0 });
    proxy = await startProxy(patients.url);
    server = await startTestServer(
      'fs',
      {
        PATIENT_SERVICE_URL: proxy.url,
        PATIENT_SERVICE_TIMEOUT_MS: '1000',
        PATIENT_SERVICE_RETRIES: '0',
        PATIENT_CACHE_TTL_MS: '0',
      },
      { authenticate: headerActor },
    );
  });
  afterAll(async () => {
    await server?.close();
    await proxy?.stop();
    await patients?.stop();
  });

  const { call, read } = actorCalls(() => server, DOCTOR);
  const store = async (file: Buffer, over: MetadataInput = {}) => {
    const res = await postXray(server.url, validMetadata({ patientId: 'P-1001', ...over }), blobOf(file), {
      'X-Test-Actor': PARAMEDIC,
    });
    expect(res.status, await res.clone().text()).toBe(201);
    return XraySchema.parse(await res.json()).id;
  };
  const rowsOf = async (ids: string[]) =>
    (
      await server.pool.query<{ id: string; identity: Identity; change_seq: string; object_key: string }>(
        'SELECT id, identity, change_seq, object_key FROM xrays WHERE id = ANY($1::uuid[]) ORDER BY id',
        [ids],
      )
    ).rows;
  const resetToNotChecked = async (ids: string[]) => {
    await server.pool.query(`UPDATE xrays SET identity = $1 WHERE id = ANY($2::uuid[])`, [
      JSON.stringify(NOT_CHECKED),
      ids,
    ]);
    await server.pool.query(
      `DELETE FROM outbox_events WHERE type = 'xray.identity_mismatch' AND xray_id = ANY($1::uuid[])`,
      [ids],
    );
  };
  const settle = (ids: string[]) =>
    server.pool.query(`UPDATE xrays SET identity = $1 WHERE id = ANY($2::uuid[])`, [JSON.stringify(SETTLED), ids]);
  const checkAudits = async (ids: string[]) =>
    (
      await server.pool.query<{ xray_id: string }>(
        `SELECT xray_id FROM audit_events WHERE action = 'xray.update' AND details->>'cause' = 'identity_check'
          AND xray_id = ANY($1::uuid[]) ORDER BY id`,
        [ids],
      )
    ).rows.map((r) => r.xray_id);
  const noDemographics = (r: { stdout: string; stderr: string }) => {
    expect(r.stdout).not.toMatch(DEMOGRAPHICS);
    expect(r.stderr).not.toMatch(DEMOGRAPHICS);
  };

  it('an X-ray whose stored object is missing or corrupt is reported, unchanged, and the rest are still checked', async () => {
    const good = await store(dicom({ ...KELLER, patientName: 'DOE^JOHN' }));
    const missing = await store(dicom(KELLER));
    const corrupt = await store(dicom(KELLER));
    await resetToNotChecked([good, missing, corrupt]);
    const [rowMissing, rowCorrupt] = [(await rowsOf([missing]))[0]!, (await rowsOf([corrupt]))[0]!];
    await server.store.delete(rowMissing.object_key);
    // One byte of the ciphertext's header segment flipped: its XRE1 tag no longer matches.
    const { readFile, writeFile } = await import('node:fs/promises');
    const path = await import('node:path');
    const file = path.join(server.config.storage.kind === 'fs' ? server.config.storage.dir : '', rowCorrupt.object_key);
    const bytes = await readFile(file);
    bytes[Math.min(200, bytes.length - 20)]! ^= 0xff;
    await writeFile(file, bytes);
    const before = await rowsOf([missing, corrupt]);

    const result = await run(identityCheckCommand, [], server.env);
    expect(result.code).toBe(1);
    expect(result.stdout.split('\n')[0]).toBe('Checked 1 X-ray(s): 0 consistent, 1 mismatch, 0 unknown; 2 failed.');
    const failedIds = result.stderr
      .split('\n')
      .map((l) => l.split(':')[0])
      .sort();
    expect(failedIds).toEqual([missing, corrupt].sort());
    noDemographics(result);
    expect(await rowsOf([missing, corrupt])).toEqual(before);
    expect(await checkAudits([missing, corrupt])).toEqual([]);
    expect((await read(good)).identity).toMatchObject({ status: 'mismatch', fields: [{ field: 'patientName' }] });
    await settle([missing, corrupt]);
  });

  it('a Patient Service answering garbage or too slowly leaves the X-ray not_checked and exits 1', async () => {
    const id = await store(dicom(KELLER));
    await resetToNotChecked([id]);
    const before = await rowsOf([id]);
    try {
      for (const mode of ['garbage', 'slow'] as const) {
        proxy.state.mode = mode;
        const result = await run(identityCheckCommand, [], server.env);
        expect(result, mode).toMatchObject({
          code: 1,
          stderr: `${id}: the Patient Service did not answer; its identity stays not_checked`,
        });
        noDemographics(result);
        expect(await rowsOf([id])).toEqual(before);
      }
    } finally {
      proxy.state.mode = 'forward';
    }
    expect(await checkAudits([id])).toEqual([]);
    await settle([id]);
  });

  it('as a process (xray-admin identity-check): stdout is the documented report only, naming no patient, when the Patient Service fails', async () => {
    const id = await store(dicom(KELLER));
    await resetToNotChecked([id]);
    proxy.state.mode = 'garbage';
    try {
      const result = await runAdmin(['identity-check'], server.env);
      expect(result.code, result.stderr).toBe(1);
      // docs/operations.md: "Output: `Checked N X-ray(s): ...`, then a line per mismatch (the id and
      // the field names) and, on stderr, per failure (the id and why); no patient's name or data."
      expect(result.stdout).toBe('Checked 0 X-ray(s): 0 consistent, 0 mismatch, 0 unknown; 1 failed.\n');
      expect(result.stdout + result.stderr).not.toContain('P-1001');
      expect(result.stderr).toContain(`${id}: the Patient Service did not answer; its identity stays not_checked`);
    } finally {
      proxy.state.mode = 'forward';
      await settle([id]);
    }
  });

  it('decides what ingest decided (overrides, the paramedic keeping the chosen patient, an unknown patient), once, with two operators running it at once; the audit chain verifies', async () => {
    const cases = {
      consistent: await store(dicom({ ...KELLER, patientName: 'Keller^María' })),
      name: await store(dicom({ ...KELLER, patientName: 'DOE^JOHN' })),
      overridden: await store(dicom({ ...KELLER, patientName: 'DOE^JOHN', patientBirthDate: '19800101' }), {
        identityOverride: {
          fields: ['patientName', 'patientBirthDate'],
          reason: 'Typo',
          decidedAt: '2026-11-27T08:14:00Z',
        },
      }),
      kept: await store(dicom({ ...KELLER, patientId: 'P-1003' }), {
        patientDecision: 'keep_chosen_patient',
        patientDecisionReason: 'Wristband checked',
      }),
      unknownPatient: await store(dicom({ ...KELLER, patientId: 'P-9999' }), { patientId: 'P-9999' }),
      noTags: await store(dicom({ patientId: '', patientName: '' })),
      png: await store(makePng({ seed: 31_900, width: 8, height: 8 })),
    };
    const ids = Object.values(cases);
    const atIngest = new Map((await rowsOf(ids)).map((r) => [r.id, r.identity]));
    const mismatchesOf = async () =>
      (
        await server.pool.query<{ xray_id: string }>(
          `SELECT xray_id FROM outbox_events WHERE type = 'xray.identity_mismatch' AND xray_id = ANY($1::uuid[])`,
          [ids],
        )
      ).rows
        .map((r) => r.xray_id)
        .sort();
    const mismatchedAtIngest = await mismatchesOf();
    expect(mismatchedAtIngest).toEqual(expect.arrayContaining([cases.name, cases.overridden]));
    // Reset as the migration left older X-rays; an override the row held is kept (it is the device's decision).
    for (const id of ids) {
      const { override } = atIngest.get(id)!;
      await server.pool.query(`UPDATE xrays SET identity = $2 WHERE id = $1`, [
        id,
        JSON.stringify({ ...NOT_CHECKED, ...(override ? { override } : {}) }),
      ]);
    }
    await server.pool.query(
      `DELETE FROM outbox_events WHERE type = 'xray.identity_mismatch' AND xray_id = ANY($1::uuid[])`,
      [ids],
    );
    const seqBefore = new Map((await rowsOf(ids)).map((r) => [r.id, Number(r.change_seq)]));

    const [a, b] = await Promise.all([
      run(identityCheckCommand, [], server.env),
      run(identityCheckCommand, [], server.env),
    ]);
    expect([a.code, b.code]).toEqual([0, 0]);
    noDemographics(a);
    noDemographics(b);
    const checkedBy = (r: { stdout: string }) => Number(/Checked (\d+) X-ray/.exec(r.stdout)?.[1]);
    expect(checkedBy(a) + checkedBy(b)).toBe(ids.length);

    const strip = ({ checkedAt: _c, ...rest }: Identity) => rest;
    for (const row of await rowsOf(ids))
      expect(strip(row.identity), Object.entries(cases).find(([, v]) => v === row.id)?.[0]).toEqual(
        strip(atIngest.get(row.id)!),
      );
    // Once each: one audit event, one change, at most one mismatch event.
    expect((await checkAudits(ids)).sort()).toEqual([...ids].sort());
    const changes = await server.pool.query<{ xray_id: string; seq: string }>(
      `SELECT xray_id, seq FROM xray_changes WHERE xray_id = ANY($1::uuid[])`,
      [ids],
    );
    for (const id of ids)
      expect(changes.rows.filter((r) => r.xray_id === id && Number(r.seq) > seqBefore.get(id)!)).toHaveLength(1);
    // The same xray.identity_mismatch events as ingest sent, one each.
    expect(await mismatchesOf()).toEqual(mismatchedAtIngest);

    const verified = await run(verifyAuditCommand, [], server.env);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  });

  it('an event consumer (events.md: store data.xray of each event) learns the identity the check decided', async () => {
    const id = await store(dicom({ ...KELLER, patientName: 'Keller^María' }));
    await resetToNotChecked([id]);
    const result = await run(identityCheckCommand, [], server.env);
    expect(result.code).toBe(0);
    const [row] = await rowsOf([id]);
    expect(row!.identity.status).toBe('consistent');
    // The change-feed entry has an event of its own, as a PATCH's or a settled link's has
    // (xray.updated), so a worklist built from events does not keep `not_checked` for ever.
    const events = await server.pool.query<{
      type: string;
      payload: { sequence: number; data: { xray?: { identity?: Identity } } };
    }>(`SELECT type, payload FROM outbox_events WHERE xray_id = $1 ORDER BY seq`, [id]);
    const ofTheCheck = events.rows.filter((e) => e.payload.sequence === Number(row!.change_seq));
    expect(ofTheCheck.map((e) => e.payload.data.xray?.identity?.status)).toContain('consistent');
    await settle([id]);
  });

  it('a Patient Service outage stops the run after 5 failures in a row (exit 1, said on stderr): the rest stay not_checked, untried', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await store(dicom(KELLER)));
    await resetToNotChecked(ids);
    const before = await rowsOf(ids);
    proxy.state.mode = 'garbage';
    try {
      const result = await run(identityCheckCommand, [], server.env);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('Checked 0 X-ray(s): 0 consistent, 0 mismatch, 0 unknown; 5 failed.');
      const lines = result.stderr.split('\n');
      expect(lines.slice(0, 5).map((l) => l.split(':')[0])).toEqual([...ids].sort().slice(0, 5));
      expect(
        lines
          .slice(0, 5)
          .every((l) => l.endsWith('the Patient Service did not answer; its identity stays not_checked')),
      ).toBe(true);
      expect(lines.slice(5)).toEqual([
        'Stopped after 5 Patient Service failures in a row: the X-rays not reached stay not_checked; run the command again once the Patient Service answers.',
      ]);
      noDemographics(result);
      expect(await rowsOf(ids)).toEqual(before);
    } finally {
      proxy.state.mode = 'forward';
    }
    // Once it answers, a second run checks all of them.
    const again = await run(identityCheckCommand, [], server.env);
    expect(again).toMatchObject({ code: 0, stderr: '' });
    expect(again.stdout.split('\n')[0]).toBe('Checked 7 X-ray(s): 7 consistent, 0 mismatch, 0 unknown; 0 failed.');
    await settle(ids);
  });

  it('without PATIENT_SERVICE_URL it warns that names are never compared and refuses (exit 2) unless given --no-patient-service', async () => {
    // A file naming another patient's name: only the Patient Service's record could tell.
    const id = await store(dicom({ ...KELLER, patientName: 'DOE^JOHN' }));
    await resetToNotChecked([id]);
    const before = await rowsOf([id]);
    const { PATIENT_SERVICE_URL: _unset, ...env } = server.env;

    const refused = await run(identityCheckCommand, [], env);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/PATIENT_SERVICE_URL is not set: only the file's PatientID can be compared/);
    expect(refused.stderr).toMatch(/--no-patient-service/);
    expect(await rowsOf([id])).toEqual(before);

    const forced = await run(identityCheckCommand, ['--no-patient-service'], env);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toMatch(/PATIENT_SERVICE_URL is not set/);
    expect(forced.stdout).toBe('Checked 1 X-ray(s): 1 consistent, 0 mismatch, 0 unknown; 0 failed.');
    // Only the PatientID was compared: the name that differs went unseen, as the warning said.
    expect((await read(id)).identity).toMatchObject({ status: 'consistent', compared: ['patientId'] });
    await settle([id]);
  });

  it('--help names --no-patient-service', async () => {
    const help = await run(identityCheckCommand, ['--help'], server.env);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/\[--no-patient-service\]/);
  });

  it('an X-ray deleted, or moved to another patient, while the run is under way is neither written nor reported as failed', async () => {
    const deleted = await store(dicom(KELLER));
    const moved = await store(dicom(KELLER));
    await resetToNotChecked([deleted, moved]);
    // Between the command's read of the first X-ray and its write: an admin deletes one, a doctor
    // moves the other to P-1002 (the correction decides its identity against P-1002).
    proxy.state.onFirst = async () => {
      const del = await call(`/xrays/${deleted}`, ADMIN, { method: 'DELETE' });
      expect(del.status).toBeLessThan(300);
      const patch = await call(`/xrays/${moved}`, DOCTOR, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ patientId: 'P-1002' }),
      });
      expect(patch.status, await patch.clone().text()).toBe(200);
    };
    const afterPatch = async () => (await rowsOf([moved]))[0]!;
    const result = await run(identityCheckCommand, [], server.env);
    expect(proxy.state.onFirst).toBeUndefined();
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(await rowsOf([deleted])).toEqual([]);
    const movedRow = await afterPatch();
    expect(movedRow.identity.status).toBe('mismatch');
    expect(movedRow.identity.fields).toContainEqual(
      expect.objectContaining({ field: 'patientId', expected: 'P-1002' }),
    );
    expect(await checkAudits([deleted, moved])).toEqual([]);
    // Nothing numbered after the deletion.
    const afterDelete = await server.pool.query<{ kind: string }>(
      `SELECT kind FROM xray_changes WHERE xray_id = $1 ORDER BY seq`,
      [deleted],
    );
    expect(afterDelete.rows.at(-1)?.kind).toBe('deleted');
    await settle([moved]);
  });
});
