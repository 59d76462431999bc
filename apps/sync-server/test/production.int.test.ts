import { execFile } from 'node:child_process';
import { openAsBlob } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { dicomDimensionsForSize, freePort, makePng, sha256Hex, writeDicom, type WrittenDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DevDoctorService } from '../src/dev/doctor-service.ts';
import type { DevIssuer } from '../src/dev/oidc-issuer.ts';
import type { DevPatientService } from '../src/dev/patient-service.ts';
import { createSeparatedDatabase, createTestStorage, postXray, validMetadata, type TestStorage } from './harness.ts';
import {
  envFileVars,
  startDevIntegrations,
  waitFor,
  type DevIntegrations,
  type ExchangeConsumer,
} from './integrations.support.ts';
import { buildBundle, runAdmin, spawnServer, type ServerProcess } from './server-process.ts';
import { MiB, sealed, startTus } from './tus-client.ts';

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, '../../..');
const serverDir = path.resolve(import.meta.dirname, '..');
const AUDIENCE = 'xray-api';
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** What deploy/gen-keys.sh writes: the keys a real deployment starts with (never dev- ids). */
async function generatedKeys(dir: string): Promise<Record<string, string>> {
  const file = path.join(dir, 'stack.env');
  await run('bash', [path.join(repoRoot, 'deploy/gen-keys.sh'), file]);
  return envFileVars(file);
}

/** The image's HEALTHCHECK command, read from the Dockerfile (exec form), as Docker would run it. */
async function dockerHealthcheck(): Promise<string[]> {
  const dockerfile = await readFile(path.join(serverDir, 'Dockerfile'), 'utf8');
  const m = /^HEALTHCHECK[^\n]*\\\n\s*CMD (\[.*\])$/m.exec(dockerfile);
  const parsed: unknown = JSON.parse(m?.[1] ?? 'null');
  if (!Array.isArray(parsed) || !parsed.every((a): a is string => typeof a === 'string'))
    throw new Error('no exec-form HEALTHCHECK CMD in the Dockerfile');
  return parsed;
}

// The production start path outside containers: the real server process running the bundle
// (`node dist/main.js`, the image's command, built here from this checkout by build.mjs; xray-admin
// from dist/ too) with NODE_ENV=production and real settings — PostgreSQL,
// Swift s3api as S3, an oidc-provider issuer standing in for Keycloak (roles in
// realm_access.roles, as Keycloak puts them), generated keys, the Patient and Doctor Services,
// RabbitMQ — passes the round trip the embedded default passes, with real tokens.
describe('production start path (the bundle in dist/, NODE_ENV=production, real services, real tokens)', () => {
  let dir: string;
  let dataDir: string;
  let storage: TestStorage;
  let issuer: DevIssuer;
  let patients: DevPatientService;
  let doctor: DevDoctorService;
  let consumer: ExchangeConsumer;
  let server: ServerProcess;
  let env: Record<string, string>;
  let tokens: DevIntegrations['tokens'];
  let dicom: WrittenDicom;
  /** The API's public URL: events are delivered, so production requires it (their links name it). */
  let publicUrl: string;

  beforeAll(async () => {
    // A broken build (a module left out, a path not found from dist/) fails here or in the tests below.
    await buildBundle();
    dir = await mkdtemp(path.join(tmpdir(), 'xray-prod-'));
    dataDir = await mkdtemp(path.join(tmpdir(), 'xray-prod-data-'));
    const keys = await generatedKeys(dir);
    const webhookSecret = keys.XRAY_WEBHOOK_SECRET ?? '';
    const dev = await startDevIntegrations({ dataDir: path.join(dir, 'issuer'), audience: AUDIENCE, webhookSecret });
    ({ issuer, patients, doctor, consumer, tokens } = dev);
    const { exchange } = dev;
    storage = await createTestStorage('s3');
    // The application's own login; migrations run as the schema's owner.
    const db = await createSeparatedDatabase();
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    env = {
      ...storage.env,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      // Loopback here; https behind the TLS proxy in a deployment (deploy/compose.yaml).
      PUBLIC_URL: publicUrl,
      DATA_DIR: dataDir,
      AUTH_DISABLED: 'false',
      // The paramedic here uses a plain bearer token; device-bound tokens: dpop.int.test.ts.
      DPOP_REQUIRED_ROLES: '',
      DATABASE_URL: db.appUrl,
      DATABASE_OWNER_URL: db.ownerUrl,
      OIDC_ISSUER: issuer.issuer,
      OIDC_AUDIENCE: AUDIENCE,
      OIDC_ROLES_CLAIM: 'realm_access.roles',
      KEK: keys.XRAY_KEK ?? '',
      UPLOAD_PRIVATE_KEY: keys.XRAY_UPLOAD_PRIVATE_KEY ?? '',
      AUDIT_ANCHOR_KEY: keys.XRAY_AUDIT_ANCHOR_KEY ?? '',
      // Checkpoints to S3 (Swift s3api) as the round trip goes, so verify-audit has some to check.
      AUDIT_CHECKPOINT_EVERY: '5',
      PATIENT_SERVICE_URL: patients.url,
      DOCTOR_SERVICE_URL: doctor.webhookUrl,
      WEBHOOK_SECRET: webhookSecret,
      AMQP_URL: inject('amqpUrl'),
      AMQP_EXCHANGE: exchange,
      OUTBOX_POLL_INTERVAL_MS: '200',
    };
    server = await spawnServer(env, { build: 'bundle' });
    // Several S3 parts and XRE1 segments.
    // The file names the patient it is uploaded for (a mismatch is never linked as verified).
    dicom = await writeDicom(path.join(dir, 'chest.dcm'), {
      ...dicomDimensionsForSize(12 * MiB),
      seed: 77,
      patientId: 'P-1001',
    });
  });

  afterAll(async () => {
    await server?.kill();
    await consumer?.close();
    await doctor?.stop();
    await patients?.stop();
    await issuer?.stop();
    await storage?.cleanup();
    await rm(dir, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  });

  const api = (p: string, user: keyof typeof tokens, init: RequestInit = {}) =>
    fetch(`${server.url}${p}`, { ...init, headers: { ...bearer(tokens[user]), ...init.headers } });

  it('loads the S3 driver only when S3 is configured: no AWS SDK module is in what dist/main.js imports at start', async () => {
    // A server on disk storage then never spends the SDK's ~200 ms and ~30 MB (bench: startup);
    // this server, on S3, loaded it on demand (every test below stores through it).
    const dist = path.join(serverDir, 'dist');
    const reached = new Set<string>();
    const todo = ['main.js'];
    for (let file = todo.pop(); file !== undefined; file = todo.pop()) {
      if (reached.has(file)) continue;
      reached.add(file);
      const code = await readFile(path.join(dist, file), 'utf8');
      // Static imports only (`import … from "./chunk.js"`), not `import("./chunk.js")`.
      for (const m of code.matchAll(/^import\s(?:[^;]*?\sfrom\s*)?"\.\/([^"]+)"/gm)) todo.push(m[1]!);
    }
    const sourcesOf = async (file: string): Promise<string[]> =>
      (JSON.parse(await readFile(path.join(dist, `${file}.map`), 'utf8')) as { sources: string[] }).sources;
    const atStart = (await Promise.all([...reached].map(sourcesOf))).flat();
    expect(atStart.some((s) => s.includes('/src/app.ts'))).toBe(true);
    expect(atStart.filter((s) => /@aws-sdk|@smithy|@tus\/s3-store|\/src\/storage\/s3\.store\.ts/.test(s))).toEqual([]);
    // …and still in the bundle, behind a dynamic import.
    const all = (await Promise.all((await readdir(dist)).filter((f) => f.endsWith('.js')).map(sourcesOf))).flat();
    expect(all.some((s) => s.includes('@aws-sdk/client-s3'))).toBe(true);
  });

  it('is ready: database, S3 and the issuer checked; the image HEALTHCHECK passes', async () => {
    // The image's command: the bundle under plain node, no tsx loader.
    const cmdline = (await readFile(`/proc/${server.child.pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
    expect(cmdline.slice(1)).toEqual([path.join(serverDir, 'dist/main.js')]);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect((await ready.json()).checks).toMatchObject({ database: 'ok', storage: 'ok', auth: 'ok' });
    const [cmd = '', ...args] = await dockerHealthcheck();
    const port = new URL(server.url).port;
    await expect(run(cmd, args, { env: { ...process.env, PORT: port } })).resolves.toBeDefined();
    // Tokens are required: production has no anonymous or development user.
    expect((await fetch(`${server.url}/xrays`)).status).toBe(401);
  });

  it('round trip with real tokens: upload, get, list, download (sha256 equal), delete, 404', async () => {
    const patientId = 'P-1001';
    const res = await postXray(
      server.url,
      validMetadata({ patientId, consultationId: 'C-2001' }),
      await openAsBlob(dicom.path),
      bearer(tokens.paramedic),
    );
    expect(res.status).toBe(201);
    const created = await res.json();
    expect(created).toMatchObject({
      patientId,
      contentType: 'application/dicom',
      sizeBytes: dicom.size,
      sha256: dicom.sha256,
      capturedBy: { sub: 'demo-paramedic', name: 'Pat Paramedic' },
    });

    // The link is checked against the Patient Service (inline, or by the background re-check).
    const linked = await waitFor('link verified', async () => {
      const got = await api(`/xrays/${created.id}`, 'doctor');
      expect(got.status).toBe(200);
      const body = await got.json();
      return body.link?.status === 'verified' ? body : undefined;
    });
    expect(linked).toMatchObject({ id: created.id, sha256: dicom.sha256 });

    const list = await (await api(`/xrays?patientId=${patientId}`, 'doctor')).json();
    expect(list.items.map((x: { id: string }) => x.id)).toEqual([created.id]);

    const download = await api(`/xrays/${created.id}/download`, 'doctor');
    expect(download.status).toBe(200);
    expect(sha256Hex(Buffer.from(await download.arrayBuffer()))).toBe(dicom.sha256);

    // A preview: decoded by the bundle's render worker (dist/render.worker.js), encoded by sharp.
    const preview = await api(`/xrays/${created.id}/preview?size=128`, 'doctor');
    expect(preview.status).toBe(200);
    expect(preview.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await preview.arrayBuffer()).subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));

    expect((await api(`/xrays/${created.id}`, 'admin', { method: 'DELETE' })).status).toBe(204);
    expect((await api(`/xrays/${created.id}`, 'doctor')).status).toBe(404);
    expect((await api(`/xrays/${created.id}/download`, 'doctor')).status).toBe(404);

    // The events left through both sinks: the signed webhook and the RabbitMQ exchange.
    const types = ['xray.uploaded', 'xray.deleted'];
    await waitFor('webhook events', () =>
      types.every((t) => doctor.accepted().some((e) => e.type === t && e.xrayId === created.id)),
    );
    expect(
      doctor
        .requests()
        .filter((r) => r.event?.xrayId === created.id)
        .every((r) => r.signature.valid),
    ).toBe(true);
    await waitFor('AMQP events', () =>
      types.every((t) => consumer.messages.some((m) => m.routingKey === t && m.event.xrayId === created.id)),
    );
    // Their links name the API under PUBLIC_URL.
    const uploaded = doctor.accepted().find((e) => e.type === 'xray.uploaded' && e.xrayId === created.id);
    expect(uploaded && 'links' in uploaded ? uploaded.links : undefined).toEqual({
      self: `${publicUrl}/xrays/${created.id}`,
      download: `${publicUrl}/xrays/${created.id}/download`,
      preview: `${publicUrl}/xrays/${created.id}/preview`,
    });
  });

  it('takes an encrypted tus upload from the edge door and serves the same bytes', async () => {
    const plain = makePng({ seed: 901 });
    const { body, metadata } = await sealed(server.url, plain, {
      patientId: 'P-1002',
      bodyPart: 'HAND',
      view: 'PA',
      priority: 'routine',
    });
    const { id } = metadata;
    const tus = startTus({
      endpoint: `${server.url}/uploads`,
      file: body,
      chunkSize: 5 * MiB,
      headers: bearer(tokens.paramedic),
      metadata,
    });
    expect((await tus.done).xrayId).toBe(id);
    const download = await api(`/xrays/${id}/download`, 'doctor');
    expect(download.status).toBe(200);
    expect(sha256Hex(Buffer.from(await download.arrayBuffer()))).toBe(sha256Hex(plain));
  });

  it('keeps nothing on local disk and leaves an intact audit chain (xray-admin verify-audit)', async () => {
    // No embedded database, no disk objects, no generated keys: DATA_DIR stays empty.
    expect(await readdir(dataDir)).toEqual([]);
    const { code, stdout, stderr } = await runAdmin(['verify-audit'], env, undefined, { build: 'bundle' });
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^OK: \d+ audit events verified/);
    expect(stdout).toMatch(/^OK: \d+ checkpoints? in s3:\/\/[\w-]+\/audit-checkpoints\/ verified/m);
  });

  it('refuses to start in production without real settings, naming each one (exit 78)', async () => {
    const empty = await mkdtemp(path.join(tmpdir(), 'xray-prod-empty-'));
    try {
      // Events to deliver (AMQP_URL) and nowhere public for their links to point to.
      const refused = await spawnServer(
        {
          NODE_ENV: 'production',
          DATA_DIR: empty,
          HOST: '0.0.0.0',
          AMQP_URL: 'amqp://127.0.0.1:1',
        },
        { build: 'bundle' },
      ).then(
        () => new Error('the server started'),
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(Error);
      const message = refused instanceof Error ? refused.message : '';
      expect(message).toMatch(/exited with 78/);
      for (const name of [
        'OIDC_ISSUER',
        'TLS_TERMINATED_BY_PROXY',
        'DATABASE_URL',
        'S3_BUCKET',
        'KEK',
        'UPLOAD_PRIVATE_KEY',
        'DATABASE_OWNER_URL',
        'AUDIT_ANCHOR_KEY',
        'PUBLIC_URL',
      ])
        expect(message).toMatch(new RegExp(`^  ${name}: `, 'm'));
      expect(await readdir(empty)).toEqual([]);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
