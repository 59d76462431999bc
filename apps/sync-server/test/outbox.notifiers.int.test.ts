import { randomUUID } from 'node:crypto';
import type { Xray, XrayEvent } from '@xray/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevDoctorService, type DevDoctorService } from '../src/dev/doctor-service.ts';
import {
  addressed,
  linkInvalidIfSo,
  xrayDeleted,
  xrayUpdated,
  xrayUploaded,
  type XrayEventDraft,
} from '../src/events/xray.events.ts';
import { AmqpNotifier } from '../src/integrations/amqp.notifier.ts';
import { DeliveryFailed, type Notifier } from '../src/integrations/notifier.ts';
import { WebhookNotifier } from '../src/integrations/webhook.notifier.ts';
import { createLogger } from '../src/observability/logger.ts';
import {
  consumeExchange,
  expectPublishedEvent,
  TcpProxy,
  uniqueExchange,
  waitFor,
  type ExchangeConsumer,
} from './integrations.support.ts';

/** One sink, real on the other end, and a way to take that end away and give it back. */
interface SinkUnderTest {
  notifier: Notifier;
  received(): XrayEvent[];
  /** Bodies exactly as the other end received them. */
  bodies(): string[];
  takeDown(): Promise<void>;
  bringBack(): Promise<void>;
  close(): Promise<void>;
}

const log = createLogger('silent');
const ctx = (attempt = 1) => ({ attempt, signal: AbortSignal.timeout(10_000) });
const PUBLIC_URL = 'https://xray.example.org/api';

/** A stored DICOM X-ray with notes; its file names the patient (which events must not repeat). */
const anXray = (over: Partial<Xray> = {}): Xray => ({
  id: randomUUID(),
  patientId: 'P-1001',
  consultationId: null,
  capturedAt: new Date().toISOString(),
  capturedBy: { sub: 'contract', name: null },
  deviceId: null,
  bodyPart: 'CHEST',
  view: 'PA',
  priority: 'urgent',
  notes: 'Fall from a ladder',
  contentType: 'application/dicom',
  sizeBytes: 10,
  sha256: 'a'.repeat(64),
  dicom: {
    patientId: 'PAT-0001',
    patientName: 'QUILLFEATHER^ANNA',
    modality: 'DX',
    studyInstanceUid: '2.25.1',
    seriesInstanceUid: '2.25.2',
    sopInstanceUid: '2.25.3',
    rows: 16,
    columns: 16,
  },
  link: { status: 'unchecked' },
  // The file's patient is not the stored one: what differs is named in events, never the values.
  identity: {
    status: 'mismatch',
    fields: [{ field: 'patientId', file: 'PAT-0001', expected: 'P-1001', source: 'metadata' }],
    compared: ['patientId'],
    overridden: false,
  },
  dicomUidConflict: false,
  uploadedAt: new Date().toISOString(),
  changeSeq: 7,
  ...over,
});

const anEvent = (draft: XrayEventDraft = xrayUploaded(anXray())): XrayEvent => addressed(draft, PUBLIC_URL);

/** One event of each type, as the server builds them. */
function oneOfEach(): XrayEvent[] {
  const x = anXray();
  const moved = anXray({
    id: x.id,
    patientId: 'P-9999',
    notes: 'Picked the wrong patient',
    link: { status: 'invalid', reason: 'unknown_patient' },
    changeSeq: 8,
  });
  const invalid = linkInvalidIfSo(moved);
  if (!invalid) throw new Error('no xray.link_invalid');
  const changes = { patientId: { before: 'P-1001', after: 'P-9999' }, notes: { before: x.notes, after: moved.notes } };
  return [
    xrayUploaded(x),
    xrayUpdated(moved, changes, 'correction', { sub: 'contract' }),
    invalid,
    xrayDeleted({ ...moved, changeSeq: 9 }, { sub: 'admin' }),
  ].map((d) => anEvent(d));
}

/** The contract every Notifier keeps; run against each real adapter. */
function notifierContract(name: string, make: () => Promise<SinkUnderTest>) {
  describe(`Notifier contract: ${name}`, () => {
    let sink: SinkUnderTest;
    beforeAll(async () => {
      sink = await make();
    });
    afterAll(async () => {
      await sink?.notifier.close();
      await sink?.close();
    });

    it('delivers an event once, as sent, under its id', async () => {
      const event = anEvent();
      await sink.notifier.deliver(event, ctx());
      const got = await waitFor('the event', () => {
        const seen = sink.received().filter((e) => e.id === event.id);
        return seen.length > 0 && seen;
      });
      await new Promise((r) => setTimeout(r, 200));
      expect(sink.received().filter((e) => e.id === event.id)).toHaveLength(1);
      expect(got[0]).toEqual(event);
    });

    it('delivers each event type exactly as its published schema says, no patient tag from the file', async () => {
      const events = oneOfEach();
      for (const event of events) await sink.notifier.deliver(event, ctx());
      const ids = new Set(events.map((e) => e.id));
      const bodies = await waitFor('the four events', () => {
        const got = sink.bodies().filter((b) => ids.has(JSON.parse(b).id));
        return got.length === events.length && got;
      });
      const got = bodies.map((b) => expectPublishedEvent(b));
      expect(got.map((e) => e.type)).toEqual(['xray.uploaded', 'xray.updated', 'xray.link_invalid', 'xray.deleted']);
      expect(got).toEqual(events);
      const [uploaded] = got;
      expect(uploaded).toMatchObject({
        schemaVersion: 2,
        sequence: 7,
        links: {
          self: `${PUBLIC_URL}/xrays/${uploaded?.xrayId}`,
          download: `${PUBLIC_URL}/xrays/${uploaded?.xrayId}/download`,
        },
        data: { xray: { notes: 'Fall from a ladder', dicom: { modality: 'DX', sopInstanceUid: '2.25.3', rows: 16 } } },
      });
      expect(got.map((e) => e.sequence)).toEqual([7, 8, 8, 9]);
      for (const b of bodies) expect(b).not.toMatch(/QUILLFEATHER|PAT-0001/);
    });

    it('rejects, as an outage, while the sink cannot be reached; delivers again once it is back', async () => {
      await sink.takeDown();
      const lost = anEvent();
      const err = await sink.notifier.deliver(lost, ctx()).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DeliveryFailed);
      expect(err instanceof DeliveryFailed && err.unreachable).toBe(true);

      await sink.bringBack();
      const event = anEvent();
      await sink.notifier.deliver(event, ctx(2));
      await waitFor('the event after the outage', () => sink.received().some((e) => e.id === event.id));
    });
  });
}

notifierContract('webhook (dev Doctor Service)', async () => {
  const secret = 'contract-webhook-secret-01234';
  let doctor: DevDoctorService = await startDevDoctorService({ port: 0, secret });
  const port = doctor.port;
  const seen: XrayEvent[] = [];
  return {
    notifier: new WebhookNotifier({ url: doctor.webhookUrl, secret, timeoutMs: 2000, instanceId: 'contract' }),
    received: () => [...seen, ...doctor.accepted()],
    bodies: () => doctor.requests().flatMap((r) => (r.status === 204 && !r.duplicate ? [r.body] : [])),
    async takeDown() {
      seen.push(...doctor.accepted());
      await doctor.stop();
    },
    async bringBack() {
      doctor = await startDevDoctorService({ port, secret });
    },
    close: () => doctor.stop(),
  };
});

notifierContract('AMQP (RabbitMQ, durable topic exchange)', async () => {
  const exchange = uniqueExchange();
  const consumer: ExchangeConsumer = await consumeExchange(exchange);
  const proxy = TcpProxy.forAmqp();
  await proxy.start();
  return {
    notifier: new AmqpNotifier({ url: proxy.via(), exchange, confirmTimeoutMs: 2000, instanceId: 'contract', log }),
    received: () => consumer.messages.map((m) => m.event),
    bodies: () => consumer.messages.map((m) => m.body),
    takeDown: async () => proxy.cut(),
    bringBack: async () => proxy.restore(),
    async close() {
      await proxy.stop();
      await consumer.close();
    },
  };
});
