import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, makePng } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobOf, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { expectedSignature, waitFor } from './integrations.support.ts';

const SECRET = 'test-webhook-secret-recovery-0123456789';
const POLL_MS = 100;
const PROBE_MS = 500;

/**
 * A real webhook receiver on a fixed port that can be taken away (the port closed: connections
 * refused, as when the Doctor Service is down or redeploying) and given back. It records each
 * event it accepts, once, after checking the signature by the documented scheme.
 */
class Receiver {
  private server: Server | undefined;
  readonly received = new Map<string, { xrayId: string; type: string; at: number }>();
  /** X-rays whose events are refused (422: this event, not the receiver, is the problem). */
  readonly refuse = new Set<string>();
  constructor(readonly port: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/events`;
  }

  async up(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        const timestamp = String(req.headers['x-xray-timestamp'] ?? '');
        if (req.headers['x-xray-signature'] !== expectedSignature(SECRET, timestamp, body)) {
          res.writeHead(401).end();
          return;
        }
        const event = JSON.parse(body) as { id: string; xrayId: string; type: string };
        if (this.refuse.has(event.xrayId)) {
          res.writeHead(422).end();
          return;
        }
        if (!this.received.has(event.id))
          this.received.set(event.id, { xrayId: event.xrayId, type: event.type, at: Date.now() });
        res.writeHead(204).end();
      });
    });
    this.server.listen(this.port, '127.0.0.1');
    await once(this.server, 'listening');
  }

  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/**
 * After an outage of the webhook receiver, what waited for it goes out promptly once it is back
 * (the relay probes an unreachable sink every OUTBOX_PROBE_INTERVAL_MS, and the first delivery it
 * takes makes every waiting one due at once, its backoff started over), instead of each event
 * waiting out a backoff that kept growing through the outage.
 */
describe('outbox: webhook backoff after an outage', () => {
  let receiver: Receiver;
  let server: TestServer;

  beforeAll(async () => {
    receiver = new Receiver(await freePort());
    server = await startTestServer('fs', {
      DOCTOR_SERVICE_URL: receiver.url,
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_TIMEOUT_MS: '2000',
      AMQP_CONFIRM_TIMEOUT_MS: '2000',
      OUTBOX_POLL_INTERVAL_MS: String(POLL_MS),
      OUTBOX_BACKOFF_BASE_MS: '200',
      // Long, so a backoff grown through the outage would be plain to see.
      OUTBOX_BACKOFF_MAX_MS: '60000',
      OUTBOX_PROBE_INTERVAL_MS: String(PROBE_MS),
      OUTBOX_LEASE_MS: '10000',
    });
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.down();
  });

  it('5 events that waited through an outage all arrive within a few probe intervals of the receiver coming back', async () => {
    // The receiver is down from the start: every delivery attempt is refused.
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await postXray(
        server.url,
        validMetadata({ patientId: `P-OUTAGE-${i}` }),
        blobOf(makePng({ seed: 2600 + i })),
      );
      expect(res.status).toBe(201);
      ids.push(((await res.json()) as { id: string }).id);
    }
    // Long enough for backoffs to grow well past the bound below (200 ms doubling, equal jitter: after
    // 8 s each next attempt would be 3 to 13 s away, and all five within the bound by chance ~1 in 100).
    await sleep(8_000);
    const waiting = await server.pool.query<{ attempts: number; last_unreachable: boolean }>(
      `SELECT d.attempts, d.last_unreachable
         FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id
        WHERE e.xray_id = ANY($1::uuid[]) AND d.state = 'pending'`,
      [ids],
    );
    expect(waiting.rows).toHaveLength(5);
    // Each was tried several times, refused as an outage (never counted towards dead).
    for (const r of waiting.rows) {
      expect(r.attempts).toBeGreaterThanOrEqual(4);
      expect(r.last_unreachable).toBe(true);
    }

    await receiver.up();
    const back = Date.now();
    await waitFor(
      'every waiting event at the receiver',
      () =>
        ids.every((id) => [...receiver.received.values()].some((e) => e.xrayId === id && e.type === 'xray.uploaded')),
      20_000,
      20,
    );
    const took = Math.max(...[...receiver.received.values()].map((e) => e.at)) - back;
    // A probe interval to notice, then a few relay turns: generous, not a benchmark.
    expect(took).toBeLessThan(PROBE_MS + 10 * POLL_MS + 1_500);

    // Recorded as delivered too (just after the receiver answered).
    await waitFor('every delivery recorded', async () => {
      const left = await server.pool.query(
        `SELECT 1 FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id
          WHERE e.xray_id = ANY($1::uuid[]) AND d.state <> 'delivered'`,
        [ids],
      );
      return left.rowCount === 0;
    });
  });

  it('an event the receiver refuses keeps its own backoff while the others flow: only what waited for the sink is sped up', async () => {
    const res = await postXray(
      server.url,
      validMetadata({ patientId: 'P-REFUSED-1' }),
      blobOf(makePng({ seed: 2609 })),
    );
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    receiver.refuse.add(id);
    const row = async () =>
      (
        await server.pool.query<{
          attempts: number;
          failures: number;
          next_attempt_at: Date;
          last_unreachable: boolean;
        }>(
          `SELECT d.attempts, d.failures, d.next_attempt_at, d.last_unreachable
             FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id WHERE e.xray_id = $1`,
          [id],
        )
      ).rows[0];
    // Refused (422, counted towards dead) a few times in a row: its backoff grows.
    await waitFor('four refusals', async () => ((await row())?.failures ?? 0) >= 4);
    const before = await row();
    expect(before?.last_unreachable).toBe(false);
    // Others go through meanwhile (each a success right after that event's failures in a row).
    for (let i = 0; i < 3; i++) {
      const other = await postXray(
        server.url,
        validMetadata({ patientId: `P-FLOW-${i}` }),
        blobOf(makePng({ seed: 2610 + i })),
      );
      const { id: otherId } = (await other.json()) as { id: string };
      await waitFor('the other event', () => [...receiver.received.values()].some((e) => e.xrayId === otherId));
    }
    const after = await row();
    // Not made due again by their success: it was refused, not waiting for the sink to come back.
    expect(after?.failures).toBeLessThanOrEqual((before?.failures ?? 0) + 1);
    if (after?.attempts === before?.attempts) expect(after?.next_attempt_at).toEqual(before?.next_attempt_at);
    receiver.refuse.delete(id);
  });
});
