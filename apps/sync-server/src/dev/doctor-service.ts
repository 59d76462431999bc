import { once } from 'node:events';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import { XrayEventSchema, type XrayEvent } from '@xray/shared';
import { verifyWebhook, WEBHOOK_HEADERS } from '../integrations/webhook.signature.ts';
import type { Logger } from '../observability/logger.ts';
import { addressOf } from './listen.ts';

/**
 * A development Doctor Service: receives the sync server's webhook at POST /events, checks the
 * signature and timestamp the way a real receiver must (README, "Events"), records every request
 * and shows them at GET /received. `npm start` runs it when DOCTOR_SERVICE_URL is unset; tests
 * use it, including its switches to fail on purpose and to answer slowly.
 */
export interface ReceivedRequest {
  /** Arrival order, from 1. */
  n: number;
  receivedAt: string;
  /** When the answer went out (after any injected delay). */
  answeredAt: string | null;
  eventId: string | null;
  type: string | null;
  attempt: number | null;
  userAgent: string | null;
  signature: { valid: boolean; reason?: string };
  /** The status we answered. */
  status: number;
  /** An id already accepted before (a redelivery): still answered 2xx, so the sender stops. */
  duplicate: boolean;
  /** The body as parsed by the published schema (XrayEventSchema); null when it is not a valid event. */
  event: XrayEvent | null;
  /** The body exactly as received (tests check that nothing in it is undeclared). */
  body: string;
}

export interface DevDoctorService {
  /** Base URL; the webhook is `${url}/events`. */
  url: string;
  webhookUrl: string;
  port: number;
  /** Every request, in arrival order (failed and refused ones too). */
  requests(): ReceivedRequest[];
  /** Events accepted (2xx, valid signature), without repeats of an id. */
  accepted(): XrayEvent[];
  /** The next `n` requests are answered `status` (default 503) without being accepted. */
  failNext(n: number, status?: number): void;
  /** Every request is answered `status` until called with null. */
  failAlways(status: number | null): void;
  /** Holds each answer this long (shows the relay's timeouts and concurrency). */
  setDelay(ms: number): void;
  reset(): void;
  stop(): Promise<void>;
}

export async function startDevDoctorService(opts: {
  port: number;
  host?: string;
  secret: string;
  toleranceS?: number;
  log?: Logger;
}): Promise<DevDoctorService> {
  const requests: ReceivedRequest[] = [];
  const accepted = new Map<string, XrayEvent>();
  let failCount = 0;
  let failStatus = 503;
  let alwaysFail: number | null = null;
  let delayMs = 0;

  const app = express();
  app.disable('x-powered-by');
  // The raw body: the signature is over the exact bytes sent.
  app.post('/events', express.text({ type: () => true, limit: '1mb' }), async (req, res) => {
    const body = typeof req.body === 'string' ? req.body : '';
    const header = (name: string): string | undefined => req.get(name) ?? undefined;
    const signature = verifyWebhook(
      opts.secret,
      { timestamp: header(WEBHOOK_HEADERS.timestamp), signature: header(WEBHOOK_HEADERS.signature) },
      body,
      undefined,
      opts.toleranceS,
    );
    let event: XrayEvent | null = null;
    try {
      const parsed = XrayEventSchema.safeParse(JSON.parse(body));
      if (parsed.success) event = parsed.data;
    } catch {
      // recorded with event null
    }
    const attempt = Number(header(WEBHOOK_HEADERS.attempt));
    const record: ReceivedRequest = {
      n: requests.length + 1,
      receivedAt: new Date().toISOString(),
      answeredAt: null,
      eventId: header(WEBHOOK_HEADERS.eventId) ?? null,
      type: header(WEBHOOK_HEADERS.eventType) ?? null,
      attempt: Number.isInteger(attempt) ? attempt : null,
      userAgent: header('user-agent') ?? null,
      signature: signature.valid ? { valid: true } : { valid: false, reason: signature.reason },
      status: 0,
      duplicate: false,
      event,
      body,
    };
    requests.push(record);
    if (delayMs > 0) await sleep(delayMs);
    if (!signature.valid) record.status = 401;
    else if (!event || event.id !== record.eventId) record.status = 400;
    else if (alwaysFail !== null) record.status = alwaysFail;
    else if (failCount > 0) {
      failCount--;
      record.status = failStatus;
    } else {
      record.duplicate = accepted.has(event.id);
      if (!record.duplicate) accepted.set(event.id, event);
      record.status = 204;
    }
    record.answeredAt = new Date().toISOString();
    opts.log?.info(
      { eventId: record.eventId, type: record.type, status: record.status, duplicate: record.duplicate },
      'development Doctor Service received a webhook',
    );
    if (record.status === 204) res.status(204).end();
    else
      res.status(record.status).json({ status: record.status, reason: signature.valid ? 'refused' : signature.reason });
  });
  // What arrived, newest last: GET /received (JSON), for people trying the system out.
  app.get('/received', (_req, res) => {
    res.json({ accepted: [...accepted.values()], requests });
  });

  const server: Server = app.listen(opts.port, opts.host ?? '127.0.0.1');
  await once(server, 'listening');
  const { port } = addressOf(server);
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  opts.log?.info({ url: `${url}/events`, received: `${url}/received` }, 'development Doctor Service running');
  return {
    url,
    webhookUrl: `${url}/events`,
    port,
    requests: () => [...requests],
    accepted: () => [...accepted.values()],
    failNext(n, status = 503) {
      failCount = n;
      failStatus = status;
    },
    failAlways(status) {
      alwaysFail = status;
    },
    setDelay(ms) {
      delayMs = ms;
    },
    reset() {
      requests.length = 0;
      accepted.clear();
      failCount = 0;
      alwaysFail = null;
      delayMs = 0;
    },
    async stop() {
      server.close();
      server.closeAllConnections();
      await once(server, 'close').catch(() => undefined);
    },
  };
}
