import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makePng } from '@xray/testkit';
import type { Xray } from '@xray/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction, createPool } from '../src/db/pool.ts';
import { startDevDoctorService, type DevDoctorService } from '../src/dev/doctor-service.ts';
import { OutboxRelay } from '../src/events/outbox.relay.ts';
import { createOutboxWriter, outboxRepository } from '../src/events/outbox.repository.ts';
import { createLogger } from '../src/observability/logger.ts';
import { loadConfig } from '../src/config/config.ts';
import { xrayUploaded } from '../src/events/xray.events.ts';
import { blobOf, createTestDatabase, postXray, validMetadata } from './harness.ts';
import { waitFor } from './integrations.support.ts';
import { spawnServer, type ServerProcess } from './server-process.ts';

const SECRET = 'cluster-webhook-secret-0123456789';
const DAY_MS = 24 * 60 * 60 * 1000;

/** The X-ray an event is about (the outbox does not look inside). */
const eventTemplate = () => ({
  patientId: 'P-1001',
  consultationId: null,
  capturedAt: new Date().toISOString(),
  capturedBy: { sub: 'x', name: null },
  deviceId: null,
  bodyPart: 'CHEST',
  view: 'PA',
  priority: 'routine' as const,
  notes: null,
  contentType: 'image/png' as const,
  sizeBytes: 1,
  sha256: '0'.repeat(64),
  dicom: null,
  link: { status: 'unchecked' as const },
  identity: { status: 'unknown' as const, fields: [], compared: [], reason: 'not_dicom' as const, overridden: false },
  dicomUidConflict: false,
  uploadedAt: new Date().toISOString(),
  changeSeq: 1,
});
/** The base of the events' links (PUBLIC_URL); nothing here follows them. */
const links = { publicUrl: () => 'https://xray.example.org' };

/**
 * Two sync server processes on one PostgreSQL, each running its outbox relay: every event is
 * delivered, and no event is ever in two deliveries at once (the relays claim rows with
 * FOR UPDATE SKIP LOCKED under a lease).
 */
describe('outbox relays on two instances', () => {
  let doctor: DevDoctorService;
  let databaseUrl: string;
  let dataDir: string;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    doctor = await startDevDoctorService({ port: 0, secret: SECRET });
    databaseUrl = await createTestDatabase();
    dataDir = await mkdtemp(path.join(tmpdir(), 'xray-outbox-cluster-'));
    const env = {
      DATABASE_URL: databaseUrl,
      DATA_DIR: dataDir,
      DOCTOR_SERVICE_URL: doctor.webhookUrl,
      WEBHOOK_SECRET: SECRET,
      OUTBOX_POLL_INTERVAL_MS: '20',
      // Small batches, so both relays get work while the receiver is slow.
      OUTBOX_BATCH_SIZE: '2',
      OUTBOX_LEASE_MS: '30000',
      WEBHOOK_TIMEOUT_MS: '5000',
    };
    // One first, so the migrations run once; then the second.
    servers.push(await spawnServer(env));
    servers.push(await spawnServer(env));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.kill()));
    await doctor?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('every event is delivered once, never by both relays at the same time', async () => {
    doctor.setDelay(150);
    const xrays: Xray[] = [];
    for (let i = 0; i < 20; i++) {
      const server = servers[i % 2];
      if (!server) throw new Error('no server');
      const res = await postXray(server.url, validMetadata(), blobOf(makePng({ seed: 5000 + i, width: 8, height: 8 })));
      expect(res.status).toBe(201);
      xrays.push((await res.json()) as Xray);
    }
    const ids = new Set(xrays.map((x) => x.id));
    await waitFor('20 events', () => doctor.accepted().filter((e) => ids.has(e.xrayId)).length === 20, 60_000);
    const requests = doctor.requests().filter((r) => r.event && ids.has(r.event.xrayId));
    // No failures were injected, so at-least-once comes down to exactly once here.
    expect(requests).toHaveLength(20);
    expect(requests.every((r) => r.status === 204 && !r.duplicate)).toBe(true);
    // Both instances delivered (the User-Agent names the instance).
    expect(new Set(requests.map((r) => r.userAgent)).size).toBe(2);
    // And no event was ever being delivered twice at once.
    const byEvent = new Map<string, { from: number; to: number }[]>();
    for (const r of requests) {
      const spans = byEvent.get(r.eventId ?? '') ?? [];
      spans.push({ from: Date.parse(r.receivedAt), to: Date.parse(r.answeredAt ?? r.receivedAt) });
      byEvent.set(r.eventId ?? '', spans);
    }
    for (const spans of byEvent.values()) expect(spans).toHaveLength(1);
  });

  it('concurrent claims on one database never hand the same delivery to two relays', async () => {
    const pools = [createPool(databaseUrl, 10), createPool(databaseUrl, 10)];
    try {
      const [first] = pools;
      if (!first) throw new Error('no pool');
      const sink = `contract-${randomUUID().slice(0, 8)}`;
      const writer = createOutboxWriter([sink], links);
      const template = eventTemplate();
      await inTransaction(first, async (tx) => {
        for (let i = 0; i < 200; i++) await writer.append(tx, xrayUploaded({ ...template, id: randomUUID() }));
      });
      // 20 relays' turns at once, over two pools (two instances' connections).
      const claims = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          outboxRepository.claim(pools[i % 2] ?? first, {
            sinks: [sink],
            limit: 15,
            leaseMs: 60_000,
            token: randomUUID(),
            claimedBy: `relay-${i}`,
          }),
        ),
      );
      const all = claims.flat().map((c) => c.eventId);
      expect(new Set(all).size).toBe(all.length);
      expect(all.length).toBe(200);
      // Claimed means leased: nothing is due again before the lease ends.
      const again = await outboxRepository.claim(first, {
        sinks: [sink],
        limit: 500,
        leaseMs: 60_000,
        token: randomUUID(),
        claimedBy: 'late',
      });
      expect(again).toEqual([]);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });
  it('pruning removes delivered events past their retention, and keeps pending and dead ones', async () => {
    const pool = createPool(databaseUrl, 2);
    try {
      const sink = `prune-${randomUUID().slice(0, 8)}`;
      const event = () => xrayUploaded({ ...eventTemplate(), id: randomUUID() });
      const [oldDelivered, oldPending, oldDead, oldNoSink, newDelivered] = Array.from({ length: 5 }, event);
      if (!oldDelivered || !oldPending || !oldDead || !oldNoSink || !newDelivered) throw new Error('no events');
      await inTransaction(pool, async (tx) => {
        for (const e of [oldDelivered, oldPending, oldDead, newDelivered])
          await createOutboxWriter([sink], links).append(tx, e);
        // Written while no sink was configured: nothing will ever deliver it.
        await createOutboxWriter([], links).append(tx, oldNoSink);
      });
      const all = [oldDelivered, oldPending, oldDead, oldNoSink, newDelivered].map((e) => e.id);
      await pool.query(`UPDATE outbox_events SET created_at = now() - interval '8 days' WHERE id = ANY($1::uuid[])`, [
        [oldDelivered.id, oldPending.id, oldDead.id, oldNoSink.id],
      ]);
      await pool.query(
        `UPDATE outbox_deliveries SET state = 'delivered', delivered_at = now() WHERE event_id = ANY($1::uuid[])`,
        [[oldDelivered.id, newDelivered.id]],
      );
      await pool.query(`UPDATE outbox_deliveries SET state = 'dead' WHERE event_id = $1`, [oldDead.id]);

      const relay = new OutboxRelay({
        pool,
        notifiers: [],
        log: createLogger('silent'),
        instanceId: 'prune-test',
        options: { ...loadConfig({ NODE_ENV: 'test' }).outbox, retentionMs: 7 * DAY_MS },
      });
      expect(await relay.prune()).toBeGreaterThanOrEqual(2);

      const left = await pool.query<{ id: string }>('SELECT id FROM outbox_events WHERE id = ANY($1::uuid[])', [all]);
      expect(left.rows.map((r) => r.id).sort()).toEqual([oldPending.id, oldDead.id, newDelivered.id].sort());
      const deliveries = await pool.query('SELECT 1 FROM outbox_deliveries WHERE event_id = $1', [oldDelivered.id]);
      expect(deliveries.rowCount).toBe(0);
    } finally {
      await pool.end();
    }
  });
});
