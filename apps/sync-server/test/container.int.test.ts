import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { dcmtk, dicomDimensionsForSize, freePort, makeDicom, makePng, sha256Hex, writeDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DevDoctorService } from '../src/dev/doctor-service.ts';
import type { DevIssuer } from '../src/dev/oidc-issuer.ts';
import type { DevPatientService } from '../src/dev/patient-service.ts';
import {
  buildImage,
  composeServices,
  Container,
  containerEngine,
  header,
  heldBody,
  podman,
  podmanOk,
  repoRoot,
  request,
  requestsIn,
  run,
  runIdFor,
  startNginx,
  sweepAbandonedRuns,
  type Answer,
  type BuiltImage,
  type ComposeService,
  type Nginx,
} from './container.support.ts';
import { createSeparatedDatabase, createTestStorage, validMetadata, type TestStorage } from './harness.ts';
import {
  envFileVars,
  startDevIntegrations,
  waitFor,
  type DevIntegrations,
  type ExchangeConsumer,
} from './integrations.support.ts';
import { encodeMeta, MiB, sealed } from './tus-client.ts';

// The sync server's image built from this checkout and run for real with podman, the way
// deploy/compose.yaml runs it (read-only root file system, its non-root user, NODE_ENV=production,
// compose's environment with secrets from deploy/gen-keys.sh), on the host network against the
// test's PostgreSQL, Swift s3api and RabbitMQ, with the development issuer standing in for
// Keycloak; then two replicas behind Debian's nginx with the repository's nginx.conf.
// Where podman cannot run, the reason is the describe block's name and every test is skipped
// (XRAY_CONTAINERS=required makes that a failure; XRAY_CONTAINERS=off skips on purpose).

const engine = containerEngine();
if (!engine.ok) {
  console.warn(`container tests SKIPPED: ${engine.reason}`);
  if (process.env.XRAY_CONTAINERS === 'required')
    throw new Error(`XRAY_CONTAINERS=required but containers cannot run here: ${engine.reason}`);
}

const AUDIENCE = 'xray-api';
const say = (line: string) => console.log(`container: ${line}`);
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const tus = { 'Tus-Resumable': '1.0.0' };

/** Every file under `dir` (relative paths), without following links. */
async function walk(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = path.join(prefix, entry.name);
    if (entry.isDirectory()) out.push(`${rel}/`, ...(await walk(dir, rel)));
    else out.push(rel);
  }
  return out;
}

describe.skipIf(!engine.ok)(
  engine.ok
    ? 'container image (podman): built from this checkout, run as deploy/compose.yaml runs it'
    : `container image (podman): SKIPPED, ${engine.reason}`,
  () => {
    const runId = runIdFor(process.pid, randomUUID().slice(0, 8));
    const tag = `localhost/xray-sync-server:test-${runId}`;
    let dir: string;
    let certDir: string;
    let built: BuiltImage;
    /** The image build, running while the services start; afterAll waits for it before removing the tag. */
    let building: Promise<BuiltImage> | undefined;
    let storage: TestStorage;
    let auditStorage: TestStorage;
    let issuer: DevIssuer;
    let patients: DevPatientService;
    let doctor: DevDoctorService;
    let consumer: ExchangeConsumer;
    let nginx: Nginx | undefined;
    let ca: Buffer;
    let tokens: DevIntegrations['tokens'];
    let graceMs: number;
    /** Every container started (removed at the end); `replica[i]`: the one serving replica i now. */
    const containers: Container[] = [];
    const replica: Container[] = [];
    /** Per replica: its API and metrics ports and the environment file it runs with. */
    const replicas: { port: number; metricsPort: number; envFile: string }[] = [];
    let volumes: string[];
    let stopGraceSeconds: number;
    let standIns: Record<'patient' | 'doctor', ComposeService | undefined>;
    let nginxPorts: { tlsPort: number; healthPort: number };
    let restartPolicy: string;

    const startReplica = async (i: number, name: string): Promise<Container> => {
      const settings = replicas[i];
      if (!settings) throw new Error(`no replica ${i}`);
      const c = await Container.run({
        name,
        image: tag,
        envFile: settings.envFile,
        volumes,
        stopGraceSeconds,
        restart: restartPolicy,
      });
      containers.push(c);
      replica[i] = c;
      return c;
    };
    const direct = (i: number) => `http://127.0.0.1:${replicas[i]?.port}`;

    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'xray-container-'));
      await chmod(dir, 0o700);
      certDir = path.join(dir, 'certs');
      await mkdir(path.join(repoRoot, '.tmp'), { recursive: true });
      // podman build's own output (long) goes here; its last lines are in the error if it fails.
      const buildLog = path.join(repoRoot, '.tmp', 'container-build.log');
      // The services first (they need no image), the image build meanwhile.
      const swept = await sweepAbandonedRuns();
      if (swept.length) say(`removed what killed runs left: ${swept.join(', ')}`);
      building = buildImage(tag, buildLog);
      building.catch(() => undefined);

      const keysFile = path.join(dir, 'stack.env');
      const keysMade = await run('bash', [path.join(repoRoot, 'deploy/gen-keys.sh'), keysFile]);
      expect(keysMade.code, keysMade.stderr).toBe(0);
      const keys = await envFileVars(keysFile);
      const certMade = await run('bash', [path.join(repoRoot, 'deploy/gen-dev-cert.sh'), 'localhost', certDir]);
      expect(certMade.code, certMade.stderr).toBe(0);
      ca = await readFile(path.join(certDir, 'ca.crt'));
      const dev = await startDevIntegrations({
        dataDir: path.join(dir, 'issuer'),
        audience: AUDIENCE,
        webhookSecret: keys.XRAY_WEBHOOK_SECRET ?? '',
      });
      ({ issuer, patients, doctor, consumer, tokens } = dev);
      const { exchange } = dev;
      storage = await createTestStorage('s3');
      auditStorage = await createTestStorage('s3');
      const db = await createSeparatedDatabase();

      // A replica's settings: compose's, as Compose renders them with gen-keys.sh's secrets, with
      // the addresses of compose's services replaced by this machine's.
      const services = await composeServices(keysFile);
      standIns = { patient: services['patient-service'], doctor: services['doctor-service'] };
      const compose = services['sync-server-1'];
      if (!compose) throw new Error('deploy/compose.yaml has no sync-server-1');
      expect(compose.readOnly, 'compose runs the servers with read_only: true').toBe(true);
      stopGraceSeconds = compose.stopGraceSeconds;
      restartPolicy = compose.restart;
      graceMs = Number(compose.environment.SHUTDOWN_GRACE_MS ?? 10_000);
      expect(graceMs / 1000).toBeLessThan(stopGraceSeconds);
      volumes = compose.volumes.flatMap((v) => {
        const [src = '', dst = '', mode] = v.split(':');
        if (dst === '/tmp') return []; // a tmpfs here (--read-only-tmpfs)
        if (src === path.join(repoRoot, 'deploy/certs/ca.crt'))
          return [`${path.join(certDir, 'ca.crt')}:${dst}:${mode ?? 'ro'}`];
        throw new Error(`deploy/compose.yaml mounts ${v} into the servers: map it in container.int.test.ts`);
      });
      const s3 = storage.env;
      const tlsPort = await freePort();
      const here: Record<string, string> = {
        DATABASE_URL: db.appUrl,
        DATABASE_OWNER_URL: db.ownerUrl,
        S3_ENDPOINT: s3.S3_ENDPOINT ?? '',
        S3_REGION: s3.S3_REGION ?? '',
        S3_ACCESS_KEY_ID: s3.S3_ACCESS_KEY_ID ?? '',
        S3_SECRET_ACCESS_KEY: s3.S3_SECRET_ACCESS_KEY ?? '',
        S3_FORCE_PATH_STYLE: 'true',
        S3_BUCKET: s3.S3_BUCKET ?? '',
        // Swift s3api: checksums only where required, 5 MiB parts; no Object Lock there.
        S3_CHECKSUMS_WHEN_REQUIRED: 'true',
        S3_PART_SIZE: String(5 * MiB),
        AUDIT_CHECKPOINT_BUCKET: auditStorage.env.S3_BUCKET ?? '',
        AUDIT_CHECKPOINT_LOCK_DAYS: '0',
        OIDC_ISSUER: issuer.issuer,
        // The paramedic here uses a plain bearer token; device-bound tokens: dpop.int.test.ts.
        DPOP_REQUIRED_ROLES: '',
        PATIENT_SERVICE_URL: patients.url,
        DOCTOR_SERVICE_URL: doctor.webhookUrl,
        AMQP_URL: inject('amqpUrl'),
        AMQP_EXCHANGE: exchange,
        PUBLIC_URL: `https://127.0.0.1:${tlsPort}`,
        // The host network: loopback only, and the proxy reaches the replicas over it.
        HOST: '127.0.0.1',
        METRICS_HOST: '127.0.0.1',
        TRUST_PROXY: 'loopback',
        OUTBOX_POLL_INTERVAL_MS: '200',
      };
      const composeHosts =
        /(@|\/\/)(postgres|minio|rabbitmq|keycloak|patient-service|doctor-service|xray\.localhost)\b/;
      const unmapped = Object.entries(compose.environment)
        .filter(([k, v]) => composeHosts.test(v) && !(k in here))
        .map(([k]) => k);
      expect(unmapped, "compose settings naming compose's services, with no address here").toEqual([]);
      for (let i = 0; i < 2; i++) {
        const port = await freePort();
        const metricsPort = await freePort();
        const env = { ...compose.environment, ...here, PORT: String(port), METRICS_PORT: String(metricsPort) };
        const envFile = path.join(dir, `replica-${i + 1}.env`);
        const lines = Object.entries(env).map(([k, v]) => {
          if (v.includes('\n')) throw new Error(`${k} holds a newline: an env file cannot carry it`);
          return `${k}=${v}`;
        });
        await writeFile(envFile, `${lines.join('\n')}\n`, { mode: 0o600 });
        replicas.push({ port, metricsPort, envFile });
      }
      say(
        `settings: deploy/compose.yaml's ${Object.keys(compose.environment).length} (secrets from deploy/gen-keys.sh); ` +
          `for this host: ${Object.keys(here).join(', ')}, PORT, METRICS_PORT; volumes: ${volumes.join(', ')}`,
      );
      // nginx starts in its test; its ports are fixed now (PUBLIC_URL names the TLS one).
      nginxPorts = { tlsPort, healthPort: await freePort() };
      built = await building;
    }, 900_000);

    afterAll(async () => {
      for (const c of containers) await c.remove();
      await nginx?.stop();
      // A beforeAll that failed early leaves the build running: removing the tag before it ends would miss it.
      await building?.catch(() => undefined);
      await podman(['rmi', '--force', tag]);
      await consumer?.close();
      await doctor?.stop();
      await patients?.stop();
      await issuer?.stop();
      await storage?.cleanup();
      await auditStorage?.cleanup();
      if (dir) await rm(dir, { recursive: true, force: true });
    }, 120_000);

    it('builds the image from the checkout: its size, and only what production needs inside', async () => {
      const baseSize = Number(await podmanOk(['image', 'inspect', '--format', '{{.Size}}', built.nodeImage]));
      const revision = await podmanOk([
        'image',
        'inspect',
        '--format',
        '{{index .Labels "org.opencontainers.image.revision"}}',
        tag,
      ]);
      say(
        `image ${tag} built from ${repoRoot} (revision ${revision}) in ${built.seconds} s on ${built.nodeImage}: ` +
          `${mb(built.sizeBytes)} (base ${mb(baseSize)}, the server ${mb(built.sizeBytes - baseSize)})`,
      );
      const [user, env, health] = [
        await podmanOk(['image', 'inspect', '--format', '{{.Config.User}}', tag]),
        await podmanOk(['image', 'inspect', '--format', '{{json .Config.Env}}', tag]),
        await podmanOk(['image', 'inspect', '--format', '{{json .Config.Healthcheck}}', tag]),
      ];
      expect(user).toBe('node');
      const envVars: unknown = JSON.parse(env);
      expect(envVars).toEqual(expect.arrayContaining(['NODE_ENV=production', 'EDGE_APP_DIR=/app/edge-app']));
      // Nothing of the build machine's trust or registry settings.
      expect(JSON.stringify(envVars)).not.toMatch(/NODE_EXTRA_CA_CERTS|NPM_CONFIG|npmrc/i);
      expect(health).toContain('/healthz');

      const mount = await podmanOk(['image', 'mount', tag]);
      try {
        const all = await walk(mount);
        const app = all.filter((p) => p.startsWith('app/'));
        // Keys, certificates, local data and env files: nowhere in the image.
        const secrets = all.filter((p) =>
          /(^|\/)(\.data|dev-oidc|certs|secrets)\/|(^|\/)\.env|\.(pem|key|crt|p12|pfx)$|dev-keys\.json$|(^|\/)\.npmrc$/.test(
            p,
          ),
        );
        expect(secrets).toEqual([]);
        // The server's files (what the Dockerfile adds): no test, no source map.
        expect(
          app.filter((p) =>
            /(^|\/)(test|tests|__tests__|test-vectors)\/$|\.(test|spec)\.[cm]?[jt]sx?$|(^|\/)vitest\.config\.[cm]?[jt]s$/.test(
              p,
            ),
          ),
        ).toEqual([]);
        expect(app.filter((p) => p.endsWith('.map'))).toEqual([]);
        // It runs the bundle: no TypeScript sources, no tsx to run them with.
        expect(app.filter((p) => /^app\/(src\/|node_modules\/(\.pnpm\/)?tsx[@/])/.test(p))).toEqual([]);
        expect(app).toEqual(
          expect.arrayContaining(['app/dist/main.js', 'app/dist/render.worker.js', 'app/dist/stand-in.js']),
        );
        let privateKeys = 0;
        for (const p of app.filter((f) => !f.endsWith('/'))) {
          const file = path.join(mount, p);
          const stat = await lstat(file);
          if (!stat.isFile() || stat.size > 4 * MiB) continue;
          if (/-----BEGIN [A-Z ]*PRIVATE KEY-----\s*[A-Za-z0-9+/]{64}/.test(await readFile(file, 'latin1'))) {
            privateKeys++;
            expect.soft(p, 'a private key in the image').toBe('');
          }
        }
        expect(privateKeys).toBe(0);
        expect(all).not.toContain('etc/ssl/certs/ca-certificates.crt');
        // The edge web app's production build: no source maps (checked above), an index and assets.
        expect(app).toEqual(expect.arrayContaining(['app/edge-app/index.html', 'app/edge-app/sw.js']));
        const appFiles = app.filter((p) => !p.endsWith('/'));
        say(
          `inside: /app ${appFiles.length} files (${app.filter((p) => p.startsWith('app/edge-app/') && !p.endsWith('/')).length} of them the edge app's build); ` +
            `no key, certificate, .data, .env, test file or source map; user node; no build-machine CA or npm settings`,
        );
      } finally {
        await podman(['image', 'unmount', tag]);
      }
    });

    it("starts as compose runs it: healthy by the image's own HEALTHCHECK, uid 1000, read-only root", async () => {
      const started = Date.now();
      const [c1, c2] = await Promise.all([
        startReplica(0, `xray-ct-${runId}-1`),
        startReplica(1, `xray-ct-${runId}-2`),
      ]);
      if (!c1 || !c2) throw new Error('no containers');
      const [h1, h2] = await Promise.all([c1.healthy(), c2.healthy()]);
      const hc = await c1.healthcheck();
      expect(hc.code).toBe(0);
      // compose starts both replicas at once on an empty database; one that loses the race for
      // the migration lock exits, and the restart policy starts it again.
      for (const c of [c1, c2]) {
        const { count, errors } = await c.restarts();
        if (count > 0)
          say(
            `${c.name} was restarted ${count}× by its restart policy (${restartPolicy}) before it was healthy; it had died of: ${errors.join(' | ')}`,
          );
      }
      say(
        `${c1.name} and ${c2.name} healthy by the image's HEALTHCHECK (podman healthcheck run: exit 0) ` +
          `${h1.toFixed(1)} s and ${h2.toFixed(1)} s after start (${((Date.now() - started) / 1000).toFixed(1)} s with podman run)`,
      );
      // The process itself, as the host's kernel sees it.
      const pid = await c1.inspect('{{.State.Pid}}');
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe('1000');
      expect(/^Gid:\s+(\d+)/m.exec(status)?.[1]).toBe('1000');
      expect((await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ')).toMatch(/^node dist\/main\.js/);
      expect(await c1.inspect('{{.HostConfig.ReadonlyRootfs}}')).toBe('true');
      const write = await c1.exec(['sh', '-c', 'touch /app/probe || touch /var/lib/xray/probe']);
      expect(write.code).not.toBe(0);
      expect(write.stderr).toMatch(/Read-only file system/);
      expect((await c1.exec(['printenv', 'NODE_ENV'])).stdout.trim()).toBe('production');
      // The pinned LTS release the tests run on (scripts/node-lts.mjs), not Node 20.
      const lts = await run('node', [path.join(repoRoot, 'scripts/node-lts.mjs'), 'version']);
      expect(lts.code, lts.stderr).toBe(0);
      const nodeVersion = (await c1.exec(['node', '--version'])).stdout.trim();
      expect(nodeVersion).toBe(`v${lts.stdout.trim()}`);
      const ready = await fetch(`${direct(0)}/readyz`);
      expect(ready.status).toBe(200);
      expect((await ready.json()).checks).toMatchObject({ database: 'ok', storage: 'ok', auth: 'ok' });
      // Metrics on their own listener (METRICS_PORT), not on the API port.
      expect((await fetch(`http://127.0.0.1:${replicas[0]?.metricsPort}/metrics`)).status).toBe(200);
      say(
        `process uid 1000 gid 1000 (/proc/${pid}/status) running node dist/main.js on Node ${nodeVersion}, root file system read-only (touch: Read-only file system), NODE_ENV=production, /readyz 200`,
      );
    });

    it('serves the round trip with real tokens: POST and tus upload, get, list, download sha256-equal, delete', async () => {
      const base = direct(0);
      const api = (p: string, user: keyof typeof tokens, init: RequestInit = {}) =>
        fetch(`${base}${p}`, { ...init, headers: { ...bearer(tokens[user]), ...init.headers } });
      expect((await fetch(`${base}/xrays`)).status).toBe(401);

      // POST /xrays: a DICOM over several S3 parts.
      const dicom = await writeDicom(path.join(dir, 'chest.dcm'), { ...dicomDimensionsForSize(6 * MiB), seed: 21 });
      const form = new FormData();
      form.append('metadata', JSON.stringify(validMetadata({ patientId: 'P-1001', consultationId: 'C-2001' })));
      form.append('file', new Blob([await readFile(dicom.path)]), 'chest.dcm');
      const posted = await api('/xrays', 'paramedic', { method: 'POST', body: form });
      expect(posted.status).toBe(201);
      const created = await posted.json();
      expect(created).toMatchObject({ sha256: dicom.sha256, sizeBytes: dicom.size, contentType: 'application/dicom' });

      // tus, as the edge sends it: XRE1 ciphertext and the wrapped data key; PATCHed to this container.
      const plain = makePng({ seed: 31 });
      const { body, metadata } = await sealed(base, plain, { patientId: 'P-1002', bodyPart: 'HAND', view: 'PA' });
      const create = await request(`${base}/uploads`, {
        method: 'POST',
        headers: {
          ...tus,
          ...bearer(tokens.paramedic),
          'Upload-Length': String(body.length),
          'Upload-Metadata': encodeMeta(metadata),
        },
      });
      expect(create.status).toBe(201);
      const uploadPath = new URL(header(create, 'location')).pathname;
      const patched = await request(`${base}${uploadPath}`, {
        method: 'PATCH',
        headers: {
          ...tus,
          ...bearer(tokens.paramedic),
          'Upload-Offset': '0',
          'Content-Type': 'application/offset+octet-stream',
        },
        body,
      });
      expect(patched.status).toBe(204);
      expect(header(patched, 'x-xray-id')).toBe(metadata.id);

      for (const [id, sha] of [
        [created.id, dicom.sha256],
        [metadata.id, sha256Hex(plain)],
      ] as const) {
        const got = await api(`/xrays/${id}`, 'doctor');
        expect(got.status).toBe(200);
        expect((await got.json()).sha256).toBe(sha);
        const download = await api(`/xrays/${id}/download`, 'doctor');
        expect(download.status).toBe(200);
        expect(sha256Hex(Buffer.from(await download.arrayBuffer()))).toBe(sha);
      }
      const list = await (await api('/xrays?patientId=P-1001', 'doctor')).json();
      expect(list.items.map((x: { id: string }) => x.id)).toContain(created.id);
      expect((await api(`/xrays/${created.id}`, 'admin', { method: 'DELETE' })).status).toBe(204);
      expect((await api(`/xrays/${created.id}`, 'doctor')).status).toBe(404);

      // The events left through both sinks: the signed webhook and RabbitMQ.
      await waitFor('webhook and AMQP events', () =>
        ['xray.uploaded', 'xray.deleted'].every(
          (t) =>
            doctor.accepted().some((e) => e.type === t && e.xrayId === created.id) &&
            consumer.messages.some((m) => m.routingKey === t && m.event.xrayId === created.id),
        ),
      );
      say(
        `through ${base} with tokens of the issuer: POST /xrays (${mb(dicom.size)} DICOM) and a tus upload stored, ` +
          'read, listed, downloaded sha256-equal; deleted (404 after); events by webhook and RabbitMQ',
      );
    });

    it("renders previews inside the container: the bundle's render worker, dcmjs-codecs' WebAssembly, sharp", async () => {
      const api = (p: string, user: keyof typeof tokens, init: RequestInit = {}) =>
        fetch(`${direct(0)}${p}`, { ...init, headers: { ...bearer(tokens[user]), ...init.headers } });
      // One image twice: as written and compressed lossless with JPEG-LS (dcmtk), which only the
      // WebAssembly decoder reads; both must give the same preview.
      const plain = path.join(dir, 'preview.dcm');
      const compressed = path.join(dir, 'preview.jls.dcm');
      await writeFile(plain, makeDicom({ rows: 300, columns: 200, seed: 51, patientId: 'P-1001' }));
      await dcmtk('dcmcjpls', [plain, compressed]);
      const previews: { width: number; height: number; mean: number }[] = [];
      for (const file of [plain, compressed]) {
        const form = new FormData();
        form.append('metadata', JSON.stringify(validMetadata({ patientId: 'P-1001', consultationId: 'C-2001' })));
        form.append('file', new Blob([await readFile(file)]), path.basename(file));
        const posted = await api('/xrays', 'paramedic', { method: 'POST', body: form });
        expect(posted.status).toBe(201);
        const { id } = await posted.json();
        const preview = await api(`/xrays/${id}/preview?size=128`, 'doctor');
        expect(preview.status, await preview.clone().text()).toBe(200);
        expect(preview.headers.get('content-type')).toBe('image/jpeg');
        const { data, info } = await sharp(Buffer.from(await preview.arrayBuffer()))
          .greyscale()
          .raw()
          .toBuffer({ resolveWithObject: true });
        previews.push({ width: info.width, height: info.height, mean: data.reduce((a, v) => a + v, 0) / data.length });
      }
      const [fromPlain, fromJpegLs] = previews;
      // 300 rows × 200 columns fitted into 128: 128 high, 85 wide.
      expect(fromPlain).toMatchObject({ height: 128, width: 85 });
      expect(fromJpegLs).toMatchObject({ height: 128, width: 85 });
      expect(Math.abs((fromPlain?.mean ?? 0) - (fromJpegLs?.mean ?? -99))).toBeLessThan(0.5);
      expect(fromPlain?.mean).toBeGreaterThan(5);
      say(
        `previews rendered in ${replica[0]?.name} (dist/render.worker.js): uncompressed and JPEG-LS DICOM, ` +
          `both ${fromPlain?.width}×${fromPlain?.height} JPEG, mean gray ${fromPlain?.mean.toFixed(1)} / ${fromJpegLs?.mean.toFixed(1)}`,
      );
    });

    it('runs xray-admin verify-audit inside the container', async () => {
      const c1 = replica[0];
      if (!c1) throw new Error('no container');
      const r = await c1.exec(['xray-admin', 'verify-audit']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/OK: \d+ audit events verified/);
      say(`podman exec ${c1.name} xray-admin verify-audit: ${r.stdout.trim().split('\n')[0]}`);
    });

    it("removes what a killed run left behind (its containers, by the dead test process's pid) and keeps this run's", async () => {
      const gone = spawnSync('true').pid;
      expect(gone).toBeGreaterThan(0);
      const leftover = await Container.run({
        name: `xray-ct-${runIdFor(gone ?? 0, 'killed')}-1`,
        image: tag,
        command: ['node', '-e', 'setInterval(() => {}, 1e9)'],
      });
      const mine = `xray-ct-${runIdFor(process.pid, 'alive')}-1`;
      const alive = await Container.run({
        name: mine,
        image: tag,
        command: ['node', '-e', 'setInterval(() => {}, 1e9)'],
      });
      containers.push(leftover, alive);
      const removed = await sweepAbandonedRuns();
      expect(removed).toContain(leftover.name);
      const names = (await podmanOk(['ps', '--all', '--format', '{{.Names}}'])).split('\n');
      expect(names).not.toContain(leftover.name);
      expect(names).toContain(mine);
      expect(names).toContain(replica[0]?.name);
    });

    it("runs compose's stand-ins (Patient and Doctor Services) from the image, healthy by compose's checks", async () => {
      const started = Date.now();
      const names: string[] = [];
      await Promise.all(
        (['patient', 'doctor'] as const).map(async (which) => {
          const service = standIns[which];
          if (!service?.command.length || !service.healthcheck.length)
            throw new Error(`deploy/compose.yaml: ${which}-service has no command or healthcheck`);
          expect(service.readOnly).toBe(true);
          // Port 8080 as in compose, in a network namespace of its own (the host's may have it taken).
          const c = await Container.run({
            name: `xray-ct-${runId}-${which}`,
            image: tag,
            env: service.environment,
            network: 'none',
            command: service.command,
          });
          containers.push(c);
          await c.healthy(60_000, service.healthcheck);
          names.push(`${which}-service`);
          await c.remove();
        }),
      );
      say(
        `${names.sort().join(' and ')}: compose's commands, read-only, from the image; compose's health checks pass (${((Date.now() - started) / 1000).toFixed(1)} s)`,
      );
    });

    it("behind nginx (the repository's config): two replicas share one upload by URL; SIGTERM drains the one writing it, exit 0 within the grace period, and the upload resumes on a new container", async () => {
      nginx = await startNginx({
        dir,
        certDir,
        replicas: [replicas[0]?.port ?? 0, replicas[1]?.port ?? 0],
        keycloakPort: issuer.port,
        ...nginxPorts,
      });
      const proxy = nginx.url;
      const via = (p: string, init: Parameters<typeof request>[1] = {}) => request(`${proxy}${p}`, { ...init, ca });
      expect((await via('/readyz')).status).toBe(200);
      expect((await via('/metrics')).status).toBe(404);
      // The edge web app, from the image, on the API's origin.
      const page = await via('/');
      expect(page.status).toBe(200);
      expect(header(page, 'content-security-policy')).toContain("script-src 'self'");
      expect(page.body.toString()).toContain('<div id="root"');
      say(
        `nginx ${proxy} (deploy/nginx/nginx.conf; addresses, pid file and certificate paths for this host): /readyz 200, /metrics 404, / the edge app`,
      );

      // An X-ray of three tus chunks (5 MiB, 5 MiB, the rest), created and PATCHed through the proxy.
      const dicom = await writeDicom(path.join(dir, 'knee.dcm'), { ...dicomDimensionsForSize(11 * MiB), seed: 41 });
      const plain = await readFile(dicom.path);
      const { body, metadata } = await sealed(direct(0), plain, { patientId: 'P-1003', bodyPart: 'KNEE', view: 'AP' });
      const auth = bearer(tokens.paramedic);
      const create = await via('/uploads', {
        method: 'POST',
        headers: { ...tus, ...auth, 'Upload-Length': String(body.length), 'Upload-Metadata': encodeMeta(metadata) },
      });
      expect(create.status).toBe(201);
      const location = header(create, 'location');
      expect(location.startsWith(`${proxy}/uploads/`)).toBe(true);
      const uploadPath = new URL(location).pathname;
      const patch = (
        offset: number,
        chunk: Buffer | ReturnType<typeof heldBody>['body'],
        length: number,
      ): Promise<Answer> =>
        via(uploadPath, {
          method: 'PATCH',
          headers: {
            ...tus,
            ...auth,
            'Upload-Offset': String(offset),
            'Content-Type': 'application/offset+octet-stream',
            'Content-Length': String(length),
          },
          body: chunk,
        });
      const chunk = 5 * MiB;
      const first = await patch(0, body.subarray(0, chunk), chunk);
      expect(first.status).toBe(204);
      expect(header(first, 'upload-offset')).toBe(String(chunk));

      // Which replica nginx routes this upload's PATCHes to (hash $uri): the one that logged it.
      const [c1, c2] = replica;
      if (!c1 || !c2) throw new Error('no containers');
      const writer = await waitFor('the PATCH in a replica log', async () => {
        const [n1, n2] = [
          requestsIn(await c1.logEntries(), 'PATCH', uploadPath),
          requestsIn(await c2.logEntries(), 'PATCH', uploadPath),
        ];
        return n1 + n2 > 0 ? (n1 > 0 ? 0 : 1) : undefined;
      });
      const other = 1 - writer;
      const [writing, otherOne] = writer === 0 ? [c1, c2] : [c2, c1];
      // The other replica sees the same upload (its rows in PostgreSQL, its parts in S3).
      const seen = await request(`${direct(other)}${uploadPath}`, { method: 'HEAD', headers: { ...tus, ...auth } });
      expect(seen.status).toBe(200);
      expect(header(seen, 'upload-offset')).toBe(String(chunk));
      say(
        `upload ${uploadPath}: created through the proxy, PATCHes routed to ${writing.name}; ${otherOne.name} reports the same offset (${chunk})`,
      );

      // The second chunk in flight: 2 MiB sent, then SIGTERM to its replica, then the rest.
      const held = heldBody(body.subarray(chunk, 2 * chunk), 2 * MiB);
      const inFlight = patch(chunk, held.body, chunk);
      // The replica has the held part once its tus store counted those bytes (its own metrics).
      await waitFor('the first 2 MiB of the PATCH at the replica', async () => {
        const metrics = await fetch(`http://127.0.0.1:${replicas[writer]?.metricsPort}/metrics`).then((r) => r.text());
        const received = Number(/^xray_tus_request_bytes_total\{method="body"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
        return received >= chunk + 2 * MiB;
      });
      const sigterm = Date.now();
      const stopping = writing.stop();
      await waitFor(
        'shutting down',
        async () => (await writing.logEntries()).some((e) => e.msg === 'shutting down'),
        30_000,
        100,
      );
      held.release();
      const second = await inFlight;
      expect(second.status).toBe(204);
      expect(header(second, 'upload-offset')).toBe(String(2 * chunk));
      const stopped = await stopping;
      const drained = (Date.now() - sigterm) / 1000;
      expect(stopped.exitCode).toBe(0);
      // Before stop_grace_period's SIGKILL (exit 137), so the server ended by itself.
      expect(drained).toBeLessThan(stopGraceSeconds);
      const logged = await writing.logEntries();
      expect(logged.some((e) => e.msg === 'sync server stopped')).toBe(true);
      expect(logged.filter((e) => Number(e.level) >= 50)).toEqual([]);
      // Node keeps a connection open after server.close() when a request was running on it, so the
      // proxy's kept-alive connection holds the drain until SHUTDOWN_GRACE_MS closes it.
      const heldByKeepAlive = drained >= graceMs / 1000 - 1;
      say(
        `SIGTERM to ${writing.name} mid-PATCH: the PATCH finished (204, offset ${2 * chunk}), ` +
          `the container exited 0 after ${drained.toFixed(1)} s (SHUTDOWN_GRACE_MS ${graceMs}, stop_grace_period ${stopGraceSeconds} s` +
          `${heldByKeepAlive ? "; the drain lasted the whole grace period: nginx's kept-alive connection stayed open after the PATCH" : ''})`,
      );

      // A new container in its place (a rolling update); nginx sends the upload's next PATCH there.
      const replacement = await startReplica(writer, `${writing.name}-new`);
      await replacement.healthy();
      const resumed = await via(uploadPath, { method: 'HEAD', headers: { ...tus, ...auth } });
      expect(resumed.status).toBe(200);
      expect(header(resumed, 'upload-offset')).toBe(String(2 * chunk));
      const last = await patch(2 * chunk, body.subarray(2 * chunk), body.length - 2 * chunk);
      expect(last.status).toBe(204);
      expect(header(last, 'x-xray-id')).toBe(metadata.id);
      expect(requestsIn(await replacement.logEntries(), 'PATCH', uploadPath)).toBe(1);

      const download = await via(`/xrays/${metadata.id}/download`, { headers: bearer(tokens.doctor) });
      expect(download.status).toBe(200);
      expect(sha256Hex(download.body)).toBe(dicom.sha256);
      const listed = JSON.parse(
        (await via('/xrays?patientId=P-1003', { headers: bearer(tokens.doctor) })).body.toString(),
      );
      expect(listed.items.map((x: { id: string }) => x.id)).toContain(metadata.id);
      expect((await via(`/xrays/${metadata.id}`, { method: 'DELETE', headers: bearer(tokens.admin) })).status).toBe(
        204,
      );
      const audit = await replacement.exec(['xray-admin', 'verify-audit']);
      expect(audit.code, audit.stderr).toBe(0);
      say(
        `${replacement.name} took the rest (HEAD offset ${2 * chunk}, last PATCH 204, X-ray ${metadata.id}); ` +
          `downloaded through the proxy sha256-equal (${mb(dicom.size)}), listed, deleted; verify-audit there: ${audit.stdout.trim().split('\n')[0]}`,
      );
    });
  },
);
