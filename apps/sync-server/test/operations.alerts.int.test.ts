import { randomBytes, randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort, makePng } from '@xray/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WITNESS_PREFIX } from '../src/audit/audit.witness.ts';
import { startDevDoctorService, type DevDoctorService } from '../src/dev/doctor-service.ts';
import { blobOf, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { waitFor } from './integrations.support.ts';
import { runAdmin } from './server-process.ts';
import { encodeMeta, sealed, tusCreate } from './tus-client.ts';

const SECRET = 'alerts-webhook-secret-0123456789';
const MAX_ATTEMPTS = 2;
let seed = 7000;
const png = () => blobOf(makePng({ seed: seed++, width: 8, height: 8 }));

/** Every sample of a metric as {labels, value}, from the server's own metrics listener. */
async function samples(server: TestServer, name: string): Promise<{ labels: Record<string, string>; value: number }[]> {
  const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    out.push({ labels: labels as Record<string, string>, value: Number(m[3]) });
  }
  return out;
}
const sum = async (server: TestServer, name: string, where: (l: Record<string, string>) => boolean = () => true) =>
  (await samples(server, name)).filter((s) => where(s.labels)).reduce((a, s) => a + s.value, 0);

/**
 * Each alert of docs/operations.md "Monitoring and alerts": its condition caused for real, and
 * the metric (or query) the alert reads seen to cross its threshold.
 */
describe('the alerts in docs/operations.md fire', () => {
  let doctor: DevDoctorService;
  let server: TestServer;
  let admin: pg.Client;

  beforeAll(async () => {
    doctor = await startDevDoctorService({ port: 0, secret: SECRET });
    server = await startTestServer('fs', {
      DOCTOR_SERVICE_URL: doctor.webhookUrl,
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_TIMEOUT_MS: '2000',
      OUTBOX_POLL_INTERVAL_MS: '50',
      OUTBOX_BACKOFF_BASE_MS: '100',
      OUTBOX_BACKOFF_MAX_MS: '400',
      OUTBOX_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      // A Patient Service nobody answers on: links stay pending.
      PATIENT_SERVICE_URL: `http://127.0.0.1:${await freePort()}`,
      PATIENT_SERVICE_RETRIES: '0',
      LINK_RECHECK_INTERVAL_MS: '60000',
    });
    admin = new pg.Client({ connectionString: inject('pgAdminUrl') });
    await admin.connect();
  });
  afterAll(async () => {
    await server?.close();
    await doctor?.stop();
    await admin?.end();
  });

  const upload = async (): Promise<string> => {
    const res = await postXray(server.url, validMetadata(), png());
    expect(res.status, await res.clone().text()).toBe(201);
    return ((await res.json()) as { id: string }).id;
  };

  it('uploads refused: xray_ingest_rejected_total counts refusals of POST /xrays, tus creation and tus PATCH by code', async () => {
    const rejected = (code: string) => sum(server, 'xray_ingest_rejected_total', (l) => l.code === code);
    const before = {
      media: await rejected('unsupported_media_type'),
      validation: await rejected('validation_failed'),
      all: await sum(server, 'xray_ingest_rejected_total'),
    };
    // REST: not an image.
    const junk = await postXray(server.url, validMetadata(), blobOf(randomBytes(2048)));
    expect(junk.status).toBe(415);
    // tus creation: metadata without a patient.
    const noPatient = await fetch(`${server.url}/uploads`, {
      method: 'POST',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Length': '100',
        'Upload-Metadata': encodeMeta({ bodyPart: 'CHEST' }),
      },
    });
    expect(noPatient.status).toBe(400);
    // tus PATCH: bytes that are not the sealed file it announced.
    const file = makePng({ seed: seed++ });
    const { body, metadata } = await sealed(server.url, file);
    const url = await tusCreate(server.url, body, metadata);
    const patch = await fetch(url, {
      method: 'PATCH',
      headers: { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
      body: new Uint8Array(randomBytes(body.length)),
    });
    expect(patch.status).toBeGreaterThanOrEqual(400);
    const patchCode = ((await patch.json()) as { code: string }).code;

    expect(await rejected('unsupported_media_type')).toBe(before.media + 1);
    expect(await rejected('validation_failed')).toBeGreaterThan(before.validation);
    expect(await rejected(patchCode)).toBeGreaterThan(0);
    // sum by (code) (rate(...[15m])) > 0.1 fires on these.
    expect(await sum(server, 'xray_ingest_rejected_total')).toBe(before.all + 3);
  });

  it('slow API: tus requests carry their route, so the alert`s route!~"/uploads.*" leaves them out', async () => {
    const { body, metadata } = await sealed(server.url, makePng({ seed: seed++ }));
    const url = await tusCreate(server.url, body, metadata);
    await fetch(url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
    const tus = await samples(server, 'http_request_duration_seconds_count');
    const routes = new Set(
      tus.filter((s) => ['PATCH', 'HEAD'].includes(s.labels.method ?? '')).map((s) => s.labels.route),
    );
    expect([...routes].every((r) => /^\/uploads.*/.test(r ?? ''))).toBe(true);
    expect(routes.has('/uploads/{id}')).toBe(true);
    expect(tus.some((s) => s.labels.method === 'POST' && s.labels.route === '/uploads')).toBe(true);
    // Refused before the door (the method or the path): still labelled as the door's.
    await fetch(`${server.url}/uploads/${randomUUID()}`, { method: 'PATCH', headers: { 'Tus-Resumable': '1.0.0' } });
    expect(
      (await samples(server, 'http_request_duration_seconds_count')).some(
        (s) => s.labels.method === 'PATCH' && s.labels.route === 'unmatched',
      ),
    ).toBe(false);
  });

  it('nothing ingested: xray_ingested_total moves with each stored X-ray', async () => {
    const before = await sum(server, 'xray_ingested_total', (l) => l.door === 'rest');
    await upload();
    expect(await sum(server, 'xray_ingested_total', (l) => l.door === 'rest')).toBe(before + 1);
  });

  it('pending links: xray_link_checks_pending counts X-rays the Patient Service could not check', async () => {
    const id = await upload();
    const { rows } = await server.pool.query<{ pending: boolean }>(
      'SELECT link_recheck_at IS NOT NULL AS pending FROM xrays WHERE id = $1',
      [id],
    );
    expect(rows[0]?.pending).toBe(true);
    await waitFor('the gauge', async () => (await sum(server, 'xray_link_checks_pending')) >= 1);
  });

  it('event backlog: a webhook answering 503 is an outage (never dead), and the backlog age is by creation time', async () => {
    doctor.failAlways(503);
    try {
      const id = await upload();
      // More tries than OUTBOX_MAX_ATTEMPTS, none counted: an outage does not kill events.
      const row = await waitFor('retries', async () => {
        const { rows } = await server.pool.query<{ attempts: number; failures: number; state: string }>(
          `SELECT d.attempts, d.failures, d.state FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id
            WHERE e.xray_id = $1 AND e.type = 'xray.uploaded' AND d.sink = 'webhook'`,
          [id],
        );
        return (rows[0]?.attempts ?? 0) > MAX_ATTEMPTS + 1 && rows[0];
      });
      expect(row).toMatchObject({ state: 'pending', failures: 0 });
      // As if the sink had been down for 20 minutes.
      await server.pool.query(
        "UPDATE outbox_events SET created_at = now() - interval '20 minutes' WHERE xray_id = $1",
        [id],
      );
      await waitFor(
        'the backlog gauge',
        async () => (await sum(server, 'xray_outbox_oldest_pending_age_seconds')) > 900,
      );
      // The old query (by next_attempt_at, pushed forward on every try) would not have fired.
      const { rows } = await server.pool.query<{ s: number }>(
        `SELECT EXTRACT(EPOCH FROM now() - min(next_attempt_at))::float8 AS s FROM outbox_deliveries WHERE state = 'pending'`,
      );
      expect(rows[0]?.s ?? 0).toBeLessThan(900);
    } finally {
      doctor.failAlways(null);
    }
    await waitFor(
      'the backlog delivered',
      async () => (await sum(server, 'xray_outbox_oldest_pending_age_seconds')) === 0,
    );
  });

  it('dead events: a refusing webhook parks events as dead (xray_outbox_dead_deliveries), and xray-admin retry-dead delivers them, audited', async () => {
    doctor.failAlways(400);
    const ids = [await upload(), await upload()];
    try {
      await waitFor('the dead gauge', async () => (await sum(server, 'xray_outbox_dead_deliveries')) >= 2);
    } finally {
      doctor.failAlways(null);
    }
    const dry = await runAdmin(['retry-dead', '--dry-run'], { DATABASE_URL: server.env.DATABASE_URL ?? '' });
    expect(dry.stdout).toMatch(/^[2-9]\d* dead deliveries would be retried/m);
    const run = await runAdmin(['retry-dead', '--sink', 'webhook'], { DATABASE_URL: server.env.DATABASE_URL ?? '' });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^OK: [2-9]\d* dead deliveries put back to pending/m);
    await waitFor('delivered', () =>
      ids.every((id) => doctor.accepted().some((e) => e.xrayId === id && e.type === 'xray.uploaded')),
    );
    await waitFor('no dead left', async () => (await sum(server, 'xray_outbox_dead_deliveries')) === 0);
    const { rows } = await server.pool.query<{ actor_sub: string; details: { bulk?: boolean; eventIds?: string[] } }>(
      "SELECT actor_sub, details FROM audit_events WHERE action = 'outbox.retry' ORDER BY id DESC LIMIT 1",
    );
    expect(rows[0]).toMatchObject({ actor_sub: 'xray-admin retry-dead', details: { bulk: true, sink: 'webhook' } });
    expect(rows[0]?.details.eventIds?.length).toBeGreaterThanOrEqual(2);
  });

  it('server errors and dependency unavailable: a database outage is counted as status="503"', async () => {
    const database = new URL(server.env.DATABASE_URL ?? '').pathname.slice(1);
    const count503 = () => sum(server, 'http_request_duration_seconds_count', (l) => l.status === '503');
    const before = await count503();
    await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`);
    try {
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
      expect((await fetch(`${server.url}/xrays/${randomUUID()}`)).status).toBe(503);
    } finally {
      await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
    }
    expect(await count503()).toBeGreaterThan(before);
    const all = await sum(server, 'http_request_duration_seconds_count');
    expect(all).toBeGreaterThan(0);
  });

  it('memory and event loop: the series the alerts read are exported', async () => {
    expect(await sum(server, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect((await samples(server, 'nodejs_eventloop_lag_p99_seconds')).length).toBe(1);
  });

  it('audit checkpoints: a witness that refuses is counted as failed, and the checkpoint time moves once it takes them again', async () => {
    const anchored = await startTestServer('fs', { AUDIT_CHECKPOINT_EVERY: '1' });
    try {
      if (anchored.config.storage.kind !== 'fs') throw new Error('disk storage expected');
      const witnessDir = path.join(anchored.config.storage.dir, WITNESS_PREFIX.replace(/\/$/, ''));
      const failed = () => sum(anchored, 'xray_audit_checkpoints_total', (l) => l.outcome === 'failed');
      const before = await failed();
      // The witness's place taken by a file: nothing can be written there.
      await rm(witnessDir, { recursive: true, force: true });
      await writeFile(witnessDir, 'not a directory');
      await fetch(`${anchored.url}/xrays`); // an audited read: a checkpoint is due
      await waitFor('a failed checkpoint', async () => (await failed()) > before);
      await rm(witnessDir, { force: true });
      await fetch(`${anchored.url}/xrays`);
      await waitFor(
        'a written checkpoint',
        async () => (await sum(anchored, 'xray_audit_checkpoint_time_seconds')) > 0,
      );
    } finally {
      await anchored.close();
    }
  });
});
