import { makePng } from '@xray/testkit';
import type { OutboxEntry, OutboxList, Xray } from '@xray/shared';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startDevDoctorService, type DevDoctorService } from '../src/dev/doctor-service.ts';
import { blobOf, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import {
  brokerClosesConnections,
  consumeExchange,
  expectedSignature,
  TcpProxy,
  uniqueExchange,
  waitFor,
  type ExchangeConsumer,
} from './integrations.support.ts';

const SECRET = 'test-webhook-secret-0123456789';
const MAX_ATTEMPTS = 5;

/**
 * The outbox end to end, against real PostgreSQL and the machine's real RabbitMQ: uploads and
 * deletes become events, delivered at least once to the Doctor Service webhook (the dev stub,
 * which checks signatures) and to a durable topic exchange (a consumer bound to it here).
 * RabbitMQ is reached through a TCP proxy so the test can take it away and give it back
 * without stopping the shared broker.
 */
describe('outbox delivery: Doctor Service webhook and RabbitMQ', () => {
  let doctor: DevDoctorService;
  let proxy: TcpProxy;
  let consumer: ExchangeConsumer;
  let server: TestServer;
  const exchange = uniqueExchange();
  let seed = 1000;

  beforeAll(async () => {
    doctor = await startDevDoctorService({ port: 0, secret: SECRET });
    proxy = TcpProxy.forAmqp();
    await proxy.start();
    consumer = await consumeExchange(exchange);
    server = await startTestServer('fs', {
      DOCTOR_SERVICE_URL: doctor.webhookUrl,
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_TIMEOUT_MS: '2000',
      AMQP_URL: proxy.via(),
      AMQP_EXCHANGE: exchange,
      AMQP_CONFIRM_TIMEOUT_MS: '2000',
      OUTBOX_POLL_INTERVAL_MS: '50',
      OUTBOX_BACKOFF_BASE_MS: '100',
      OUTBOX_BACKOFF_MAX_MS: '800',
      OUTBOX_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      OUTBOX_LEASE_MS: '10000',
    });
  });
  afterAll(async () => {
    await server?.close();
    await consumer?.close();
    await proxy?.stop();
    await doctor?.stop();
  });
  beforeEach(() => {
    doctor.reset();
    proxy.restore();
  });

  async function upload(): Promise<Xray> {
    const res = await postXray(server.url, validMetadata(), blobOf(makePng({ seed: seed++, width: 16, height: 16 })));
    expect(res.status).toBe(201);
    return (await res.json()) as Xray;
  }

  const eventsFor = (xrayId: string, type: string) =>
    doctor.accepted().filter((e) => e.xrayId === xrayId && e.type === type);
  const messagesFor = (xrayId: string, type: string) =>
    consumer.messages.filter((m) => m.event.xrayId === xrayId && m.routingKey === type);

  async function outbox(state: 'pending' | 'dead'): Promise<OutboxEntry[]> {
    const res = await fetch(`${server.url}/admin/outbox?state=${state}`);
    expect(res.status).toBe(200);
    return ((await res.json()) as OutboxList).items;
  }

  it('an upload reaches the Doctor Service once, signed, and a consumer of the exchange once', async () => {
    const xray = await upload();
    const [event] = await waitFor(
      'the webhook',
      () => eventsFor(xray.id, 'xray.uploaded').length > 0 && eventsFor(xray.id, 'xray.uploaded'),
    );
    await waitFor('the AMQP message', () => messagesFor(xray.id, 'xray.uploaded').length > 0);
    // Time for any stray second delivery to show up.
    await new Promise((r) => setTimeout(r, 1000));

    const requests = doctor.requests().filter((r) => r.eventId === event?.id);
    expect(requests).toHaveLength(1);
    const [req] = requests;
    expect(req?.signature.valid).toBe(true);
    expect(req?.status).toBe(204);
    expect(req?.type).toBe('xray.uploaded');
    // The signature checks out by the documented scheme, computed independently of the server's code.
    expect(req?.event).toEqual(event);
    expect(event?.data).toMatchObject({ xray: { id: xray.id, sha256: xray.sha256, patientId: 'P-1001' } });

    const messages = messagesFor(xray.id, 'xray.uploaded');
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({
      routingKey: 'xray.uploaded',
      messageId: event?.id,
      persistent: true,
      contentType: 'application/json',
    });
    expect(messages[0]?.event).toEqual(event);
    expect(await outbox('pending')).toEqual([]);
  });

  it('the signature is HMAC-SHA256 over "timestamp.body", as the README documents', async () => {
    const raw: { headers: Headers; body: string }[] = [];
    const { createServer } = await import('node:http');
    const sink = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
        raw.push({ headers, body });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const address = sink.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const other = await startTestServer('fs', {
      DOCTOR_SERVICE_URL: `http://127.0.0.1:${port}/hook`,
      WEBHOOK_SECRET: SECRET,
      OUTBOX_POLL_INTERVAL_MS: '50',
    });
    try {
      const res = await postXray(other.url, validMetadata(), blobOf(makePng({ seed: seed++, width: 8, height: 8 })));
      expect(res.status).toBe(201);
      const [got] = await waitFor('a raw webhook', () => raw.length > 0 && raw);
      const ts = got?.headers.get('x-xray-timestamp') ?? '';
      expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(60);
      expect(got?.headers.get('x-xray-signature')).toBe(expectedSignature(SECRET, ts, got?.body ?? ''));
      expect(got?.headers.get('x-xray-event-id')).toBe(JSON.parse(got?.body ?? '{}').id);
      expect(got?.headers.get('content-type')).toBe('application/json');
    } finally {
      await other.close();
      sink.close();
    }
  });

  it('RabbitMQ cut off during 20 uploads, then back: every event arrives; repeats only with the same id', async () => {
    const uploads: Promise<Xray>[] = [];
    for (let i = 0; i < 20; i++) {
      uploads.push(upload());
      // The broker goes away after the 5th upload, and comes back after the 12th.
      if (i === 4) {
        await uploads[4];
        proxy.cut();
      }
      if (i === 12) {
        await Promise.all(uploads);
        await new Promise((r) => setTimeout(r, 1500)); // a few failed attempts while it is away
        proxy.restore();
      }
      // Once reconnected, the broker itself closes our connection (connection.close, as when it
      // shuts down), while uploads go on.
      if (i === 15) {
        await waitFor('a reconnection through the proxy', () => proxy.connections() > 0);
        expect(await brokerClosesConnections(proxy.upstreamPorts())).toBeGreaterThan(0);
      }
    }
    const xrays = await Promise.all(uploads);

    const ids = new Set(xrays.map((x) => x.id));
    await waitFor(
      'all 20 xray.uploaded messages',
      () => new Set(consumer.messages.filter((m) => ids.has(m.event.xrayId)).map((m) => m.event.xrayId)).size === 20,
      60_000,
    );
    const received = consumer.messages.filter((m) => ids.has(m.event.xrayId));
    // Duplicates are allowed (a lost confirm), but only as the same event with the same id.
    const byXray = new Map<string, Set<string>>();
    for (const m of received) {
      expect(m.messageId).toBe(m.event.id);
      byXray.set(m.event.xrayId, (byXray.get(m.event.xrayId) ?? new Set()).add(m.event.id));
    }
    for (const id of ids) expect(byXray.get(id)?.size, `one event id for ${id}`).toBe(1);
    // The webhook was never down: each event reached it exactly once, not again for AMQP's retries.
    await waitFor('every webhook', () => xrays.every((x) => eventsFor(x.id, 'xray.uploaded').length === 1));
    const webhookRequests = doctor.requests().filter((r) => r.event && ids.has(r.event.xrayId));
    expect(webhookRequests).toHaveLength(20);
    await waitFor('an empty outbox', async () => (await outbox('pending')).length === 0);
  });

  it('the Doctor Service failing 3 times, then recovering: the event arrives on the 4th attempt', async () => {
    doctor.failNext(3, 503);
    const xray = await upload();
    const [event] = await waitFor('the event after 3 failures', () => {
      const got = eventsFor(xray.id, 'xray.uploaded');
      return got.length > 0 && got;
    });
    const attempts = doctor.requests().filter((r) => r.eventId === event?.id);
    expect(attempts.map((r) => r.status)).toEqual([503, 503, 503, 204]);
    expect(attempts.map((r) => r.attempt)).toEqual([1, 2, 3, 4]);
    // Backoff: the attempts are spread out, not fired back to back.
    const times = attempts.map((r) => Date.parse(r.receivedAt));
    for (let i = 1; i < times.length; i++) expect((times[i] ?? 0) - (times[i - 1] ?? 0)).toBeGreaterThanOrEqual(40);
    // RabbitMQ's delivery is tracked on its own: published once, not once per webhook attempt.
    await waitFor('the AMQP message', () => messagesFor(xray.id, 'xray.uploaded').length === 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(messagesFor(xray.id, 'xray.uploaded')).toHaveLength(1);
  });

  it('a permanently failing webhook ends dead and listed; an admin retry delivers it', async () => {
    doctor.failAlways(500);
    const xray = await upload();
    const entry = await waitFor('the dead event', async () =>
      (await outbox('dead')).find((e) => e.xrayId === xray.id && e.type === 'xray.uploaded'),
    );
    const webhook = entry.deliveries.find((d) => d.sink === 'webhook');
    expect(webhook).toMatchObject({ state: 'dead', attempts: MAX_ATTEMPTS, failures: MAX_ATTEMPTS });
    expect(webhook?.lastError).toMatch(/500/);
    expect(entry.deliveries.find((d) => d.sink === 'amqp')).toMatchObject({ state: 'delivered', attempts: 1 });
    expect(entry.event.id).toBe(entry.id);
    expect(doctor.requests().filter((r) => r.eventId === entry.id)).toHaveLength(MAX_ATTEMPTS);

    doctor.failAlways(null);
    const retry = await fetch(`${server.url}/admin/outbox/${entry.id}/retry`, { method: 'POST' });
    expect(retry.status).toBe(202);
    expect(await retry.json()).toMatchObject({ retried: 1, entry: { id: entry.id } });
    await waitFor('the retried event', () => eventsFor(xray.id, 'xray.uploaded').length === 1);
    expect((await outbox('dead')).some((e) => e.id === entry.id)).toBe(false);
    // AMQP had it already and does not get it again.
    expect(messagesFor(xray.id, 'xray.uploaded')).toHaveLength(1);

    const unknown = await fetch(`${server.url}/admin/outbox/${crypto.randomUUID()}/retry`, { method: 'POST' });
    expect(unknown.status).toBe(404);
    expect((await fetch(`${server.url}/admin/outbox?state=gone`)).status).toBe(400);
  });

  it('a correction of the notes travels in xray.updated; once the X-ray is deleted, the outbox keeps none of it', async () => {
    const xray = await upload();
    const text = 'Seen by Dr Quillfeather, mother Anna Quillfeather present';
    const res = await fetch(`${server.url}/xrays/${xray.id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ notes: text }),
    });
    expect(res.status).toBe(200);
    const [updated] = await waitFor('xray.updated', () => {
      const got = eventsFor(xray.id, 'xray.updated');
      return got.length > 0 && got;
    });
    // A worklist shows the notes: they are the X-ray's, and the correction says what changed.
    expect(updated?.data).toMatchObject({ xray: { notes: text }, changes: { notes: { before: null, after: text } } });
    await waitFor('xray.updated on the exchange', () => messagesFor(xray.id, 'xray.updated').length === 1);
    expect(messagesFor(xray.id, 'xray.updated')[0]?.event).toEqual(updated);

    expect((await fetch(`${server.url}/xrays/${xray.id}`, { method: 'DELETE' })).status).toBe(204);
    const { rows } = await server.pool.query<{ type: string; payload: unknown }>(
      `SELECT type, payload FROM outbox_events WHERE xray_id = $1 ORDER BY seq`,
      [xray.id],
    );
    expect(rows.map((r) => r.type)).toEqual(['xray.uploaded', 'xray.updated', 'xray.deleted']);
    expect(JSON.stringify(rows.map((r) => r.payload))).not.toContain('Quillfeather');
  });

  it('a delete emits xray.deleted, after the upload, in the same transaction as the removal', async () => {
    const xray = await upload();
    await waitFor('the upload event', () => eventsFor(xray.id, 'xray.uploaded').length === 1);
    expect((await fetch(`${server.url}/xrays/${xray.id}`, { method: 'DELETE' })).status).toBe(204);
    const [deleted] = await waitFor('xray.deleted', () => {
      const got = eventsFor(xray.id, 'xray.deleted');
      return got.length > 0 && got;
    });
    expect(deleted?.data).toMatchObject({ xray: { id: xray.id, patientId: 'P-1001', sha256: xray.sha256 } });
    await waitFor('xray.deleted on the exchange', () => messagesFor(xray.id, 'xray.deleted').length === 1);
    const { rows } = await server.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM outbox_events WHERE xray_id = $1`,
      [xray.id],
    );
    expect(rows[0]?.n).toBe(2);
  });
});
