import { randomUUID } from 'node:crypto';
import type { XrayEvent } from '@xray/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevDoctorService, type DevDoctorService } from '../src/dev/doctor-service.ts';
import { xrayUploaded } from '../src/events/xray.events.ts';
import { AmqpNotifier } from '../src/integrations/amqp.notifier.ts';
import { DeliveryFailed, type Notifier } from '../src/integrations/notifier.ts';
import { WebhookNotifier } from '../src/integrations/webhook.notifier.ts';
import { createLogger } from '../src/observability/logger.ts';
import { consumeExchange, TcpProxy, uniqueExchange, waitFor, type ExchangeConsumer } from './integrations.support.ts';

/** One sink, real on the other end, and a way to take that end away and give it back. */
interface SinkUnderTest {
  notifier: Notifier;
  received(): XrayEvent[];
  takeDown(): Promise<void>;
  bringBack(): Promise<void>;
  close(): Promise<void>;
}

const log = createLogger('silent');
const ctx = (attempt = 1) => ({ attempt, signal: AbortSignal.timeout(10_000) });

function anEvent(): XrayEvent {
  return xrayUploaded({
    id: randomUUID(),
    patientId: 'P-1001',
    consultationId: null,
    capturedAt: new Date().toISOString(),
    capturedBy: { sub: 'contract', name: null },
    deviceId: null,
    bodyPart: 'CHEST',
    view: 'PA',
    priority: 'urgent',
    notes: null,
    contentType: 'image/png',
    sizeBytes: 10,
    sha256: 'a'.repeat(64),
    dicom: null,
    link: { status: 'unchecked' },
    uploadedAt: new Date().toISOString(),
  });
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
    takeDown: async () => proxy.cut(),
    bringBack: async () => proxy.restore(),
    async close() {
      await proxy.stop();
      await consumer.close();
    },
  };
});
