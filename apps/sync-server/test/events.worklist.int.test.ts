import { createHash } from 'node:crypto';
import { makeDicom } from '@xray/testkit';
import { LINK_INVALID_REASONS, type Xray, type XrayEvent } from '@xray/shared';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startDevDoctorService, type DevDoctorService } from '../src/dev/doctor-service.ts';
import { startDevPatientService, type DevPatientService } from '../src/dev/patient-service.ts';
import { blobOf, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import {
  consumeExchange,
  expectPublishedEvent,
  testAmqpUrl,
  uniqueExchange,
  waitFor,
  type ExchangeConsumer,
} from './integrations.support.ts';

const SECRET = 'worklist-webhook-secret-0123456789';
/** What the file and the Patient Service say about P-1001 (dev service): never in an event. */
const DEMOGRAPHICS = /KELLER\^MARIA|Maria Keller|1957-03-14/;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * Events a worklist can be filled from, end to end: the real server on real PostgreSQL, the dev
 * Patient Service, the dev Doctor Service as the webhook receiver (it checks signatures) and a
 * consumer on the machine's RabbitMQ. Every body received is checked against the published
 * schema of its type (packages/shared XRAY_EVENT_SCHEMAS), with nothing undeclared in it.
 */
describe('events a worklist can use (webhook and RabbitMQ)', () => {
  let patients: DevPatientService;
  let doctor: DevDoctorService;
  let consumer: ExchangeConsumer;
  let server: TestServer;
  const exchange = uniqueExchange();
  let seed = 4100;

  beforeAll(async () => {
    patients = await startDevPatientService({ port: 0 });
    doctor = await startDevDoctorService({ port: 0, secret: SECRET });
    consumer = await consumeExchange(exchange);
    server = await startTestServer('fs', {
      PATIENT_SERVICE_URL: patients.url,
      PATIENT_CACHE_TTL_MS: '0',
      DOCTOR_SERVICE_URL: doctor.webhookUrl,
      WEBHOOK_SECRET: SECRET,
      AMQP_URL: testAmqpUrl(),
      AMQP_EXCHANGE: exchange,
      OUTBOX_POLL_INTERVAL_MS: '50',
      OUTBOX_BACKOFF_BASE_MS: '100',
      OUTBOX_BACKOFF_MAX_MS: '400',
    });
  });
  afterAll(async () => {
    await server?.close();
    await consumer?.close();
    await doctor?.stop();
    await patients?.stop();
  });
  beforeEach(() => doctor.reset());

  const dicom = () =>
    makeDicom({ rows: 32, columns: 32, seed: seed++, patientId: 'P-1001', patientName: 'KELLER^MARIA' });

  async function upload(bytes: Uint8Array, notes: string): Promise<Xray> {
    const res = await postXray(
      server.url,
      validMetadata({ patientId: 'P-1001', consultationId: 'C-2001', notes }),
      blobOf(bytes),
    );
    expect(res.status, await res.clone().text()).toBe(201);
    return (await res.json()) as Xray;
  }
  async function patch(id: string, body: object): Promise<Xray> {
    const res = await fetch(`${server.url}/xrays/${id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as Xray;
  }
  async function remove(id: string): Promise<void> {
    expect((await fetch(`${server.url}/xrays/${id}`, { method: 'DELETE' })).status).toBe(204);
  }

  /** The webhook bodies accepted for `xrayId`, in arrival order, each checked against its schema. */
  const webhookEvents = (xrayId: string): XrayEvent[] =>
    doctor
      .requests()
      .filter((r) => r.status === 204 && !r.duplicate && r.event?.xrayId === xrayId)
      .map((r) => expectPublishedEvent(r.body));
  const amqpEvents = (xrayId: string): XrayEvent[] =>
    consumer.messages.filter((m) => m.event.xrayId === xrayId).map((m) => expectPublishedEvent(m.body));
  const rawBodies = (xrayId: string): string[] => [
    ...doctor
      .requests()
      .filter((r) => r.event?.xrayId === xrayId)
      .map((r) => r.body),
    ...consumer.messages.filter((m) => m.event.xrayId === xrayId).map((m) => m.body),
  ];
  async function outboxPayloads(xrayId: string): Promise<string[]> {
    const { rows } = await server.pool.query<{ payload: unknown }>(
      'SELECT payload FROM outbox_events WHERE xray_id = $1 ORDER BY seq',
      [xrayId],
    );
    return rows.map((r) => JSON.stringify(r.payload));
  }

  it('each event type arrives on both sinks as its published schema: links, notes, DICOM summary, sequence', async () => {
    const bytes = dicom();
    const x = await upload(bytes, 'Fall from a ladder, right side');
    expect(x.link.status).toBe('verified');
    const moved = await patch(x.id, { patientId: 'P-9999', notes: 'Wrong patient picked first' });
    expect(moved.link.status).toBe('invalid');
    // The file still names P-1001: the identity check finds the move a mismatch.
    expect(moved.identity).toMatchObject({ status: 'mismatch' });
    // Delivered before the delete (which would scrub what is still waiting: the next test).
    await waitFor('four events on both sinks', () => webhookEvents(x.id).length === 4 && amqpEvents(x.id).length === 4);
    await remove(x.id);

    const types = ['xray.uploaded', 'xray.updated', 'xray.link_invalid', 'xray.identity_mismatch', 'xray.deleted'];
    const hooked = await waitFor('five events on the webhook', () => {
      const got = webhookEvents(x.id);
      return got.length === 5 && got;
    });
    const published = await waitFor('five events on RabbitMQ', () => {
      const got = amqpEvents(x.id);
      return got.length === 5 && got;
    });
    expect(hooked.map((e) => e.type)).toEqual(types);
    // The same events, each with its id, on both sinks.
    expect(published).toEqual(hooked);
    for (const m of consumer.messages.filter((m) => m.event.xrayId === x.id)) {
      expect(m.routingKey).toBe(m.event.type);
      expect(m.messageId).toBe(m.event.id);
    }

    const [uploaded, updated, invalid, mismatch, deleted] = hooked;
    if (uploaded?.type !== 'xray.uploaded' || updated?.type !== 'xray.updated') throw new Error('order');
    if (invalid?.type !== 'xray.link_invalid' || deleted?.type !== 'xray.deleted') throw new Error('order');
    if (mismatch?.type !== 'xray.identity_mismatch') throw new Error('order');
    for (const e of hooked) expect(e.schemaVersion).toBe(2);

    // The image as a worklist shows it, without downloading it.
    expect(uploaded.data.xray).toMatchObject({
      id: x.id,
      patientId: 'P-1001',
      consultationId: 'C-2001',
      notes: 'Fall from a ladder, right side',
      sha256: sha256(bytes),
      link: { status: 'verified' },
      dicom: { modality: 'DX', bodyPartExamined: 'CHEST', viewPosition: 'PA', rows: 32, columns: 32 },
    });
    expect(uploaded.data.xray.dicom?.sopInstanceUid).toBe(x.dicom?.sopInstanceUid);
    expect(uploaded.data.xray.dicom?.studyInstanceUid).toBe(x.dicom?.studyInstanceUid);
    expect(updated.data).toMatchObject({
      cause: 'correction',
      changes: {
        patientId: { before: 'P-1001', after: 'P-9999' },
        notes: { before: 'Fall from a ladder, right side', after: 'Wrong patient picked first' },
      },
      xray: { patientId: 'P-9999', notes: 'Wrong patient picked first', link: { status: 'invalid' } },
    });
    expect(LINK_INVALID_REASONS).toContain(invalid.data.reason);
    // Which fields, not what they say.
    expect(mismatch.data).toMatchObject({ fields: ['patientId'], overridden: false, cause: 'correction' });
    expect(uploaded.data.xray.identity).toEqual({ status: 'consistent', fields: [], overridden: false });
    expect(deleted.data.xray).toEqual({
      id: x.id,
      patientId: 'P-9999',
      consultationId: 'C-2001',
      sha256: sha256(bytes),
    });

    // The change sequence: the X-ray's changeSeq at each change, increasing; link_invalid shares
    // the update's.
    expect(uploaded.sequence).toBe(x.changeSeq);
    expect(updated.sequence).toBe(moved.changeSeq);
    expect(invalid.sequence).toBe(updated.sequence);
    expect(mismatch.sequence).toBe(updated.sequence);
    expect(updated.sequence).toBeGreaterThan(uploaded.sequence);
    expect(deleted.sequence).toBeGreaterThan(updated.sequence);

    // No demographics: not the file's patient name, not the Patient Service's summary.
    for (const body of rawBodies(x.id)) expect(body).not.toMatch(DEMOGRAPHICS);
    expect(deleted).not.toHaveProperty('links');
    // Delivered and kept for the retention period: scrubbed all the same once the X-ray is gone.
    const kept = await outboxPayloads(x.id);
    expect(kept).toHaveLength(5);
    for (const p of kept) expect(p).not.toMatch(/Fall from a ladder|Wrong patient picked/);
  });

  it('the links are absolute and lead to the X-ray and to its bytes', async () => {
    const bytes = dicom();
    const x = await upload(bytes, 'Links');
    const [uploaded] = await waitFor('xray.uploaded', () => {
      const got = webhookEvents(x.id);
      return got.length === 1 && got;
    });
    if (uploaded?.type !== 'xray.uploaded') throw new Error('no xray.uploaded');
    expect(uploaded.links.self).toBe(`${server.url}/xrays/${x.id}`);
    expect(new URL(uploaded.links.download).origin).toBe(new URL(server.url).origin);
    const self = await fetch(uploaded.links.self);
    expect(self.status).toBe(200);
    expect(await self.json()).toMatchObject({ id: x.id, sha256: sha256(bytes), changeSeq: uploaded.sequence });
    const download = await fetch(uploaded.links.download);
    expect(download.status).toBe(200);
    expect(sha256(new Uint8Array(await download.arrayBuffer()))).toBe(sha256(bytes));
  });

  it('a delete scrubs the X-ray’s events in the outbox; one not yet delivered goes out scrubbed, then xray.deleted', async () => {
    const notes = 'Seen with Anna Quillfeather, neighbour';
    const corrected = 'Seen with Anna Quillfeather, daughter';
    // The Doctor Service is down (an outage: retried until it is back); RabbitMQ is not.
    doctor.failAlways(503);
    const x = await upload(dicom(), notes);
    await patch(x.id, { notes: corrected });
    await waitFor('both events on RabbitMQ', () => amqpEvents(x.id).length === 2);
    // While the X-ray exists, its outbox rows hold what a worklist needs.
    expect((await outboxPayloads(x.id)).join()).toContain('Quillfeather');

    await remove(x.id);
    const stored = await outboxPayloads(x.id);
    expect(stored).toHaveLength(3);
    for (const p of stored) expect(p).not.toMatch(/Quillfeather|KELLER/);
    const [storedUpload, storedUpdate] = stored.map((p) => JSON.parse(p));
    expect(storedUpload).toMatchObject({ scrubbed: true, data: { xray: { notes: null, dicom: null } } });
    expect(storedUpdate).toMatchObject({
      scrubbed: true,
      data: { xray: { notes: null }, changes: { notes: { before: null, after: null, withheld: true } } },
    });

    doctor.failAlways(null);
    const events = await waitFor('the three events on the webhook', () => {
      const got = webhookEvents(x.id);
      return got.length === 3 && got;
    });
    expect(events.map((e) => [e.type, e.scrubbed])).toEqual([
      ['xray.uploaded', true],
      ['xray.updated', true],
      ['xray.deleted', undefined],
    ]);
    expect(events[0]).toMatchObject({ data: { xray: { id: x.id, notes: null, dicom: null } } });
    // (The refused attempts while it was down carried the notes: the X-ray existed then.)
    for (const r of doctor.requests().filter((r) => r.event?.xrayId === x.id && r.status === 204))
      expect(r.body).not.toMatch(/Quillfeather/);
    const sequences = events.map((e) => e.sequence);
    expect([...sequences].sort((a, b) => a - b)).toEqual(sequences);
  });

  it('several X-rays corrected at once: each one’s events arrive with increasing sequences', async () => {
    const xrays = await Promise.all([0, 1, 2].map((i) => upload(dicom(), `X-ray ${i}`)));
    // Each X-ray corrected three times in a row; the three X-rays at the same time.
    await Promise.all(
      xrays.map(async (x) => {
        for (const view of ['AP', 'LAT', 'OBL']) await patch(x.id, { view });
      }),
    );
    for (const x of xrays) {
      for (const events of [
        await waitFor('four webhook events', () => webhookEvents(x.id).length === 4 && webhookEvents(x.id)),
        await waitFor('four RabbitMQ events', () => amqpEvents(x.id).length === 4 && amqpEvents(x.id)),
      ]) {
        expect(events.map((e) => e.type)).toEqual(['xray.uploaded', 'xray.updated', 'xray.updated', 'xray.updated']);
        const sequences = events.map((e) => e.sequence);
        for (let i = 1; i < sequences.length; i++) expect(sequences[i]).toBeGreaterThan(sequences[i - 1] ?? 0);
        expect(events.at(-1)).toMatchObject({
          data: { xray: { view: 'OBL', notes: expect.stringMatching(/^X-ray/) } },
        });
      }
    }
  });
});
