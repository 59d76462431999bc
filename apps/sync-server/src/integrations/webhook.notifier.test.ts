import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { XrayEvent } from '@xray/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { DeliveryFailed } from './notifier.ts';
import { retryAfterMsOf, WebhookNotifier } from './webhook.notifier.ts';

const event = {
  id: '0b9f6f7e-8c1d-4d0e-9a7b-0c1d2e3f4a5b',
  type: 'xray.deleted',
  occurredAt: new Date().toISOString(),
  source: 'xray-sync-server',
  xrayId: '1b9f6f7e-8c1d-4d0e-9a7b-0c1d2e3f4a5b',
  data: {
    xray: {
      id: '1b9f6f7e-8c1d-4d0e-9a7b-0c1d2e3f4a5b',
      patientId: 'P-1',
      consultationId: null,
      sha256: 'a'.repeat(64),
    },
    by: null,
  },
} as XrayEvent;

describe('the webhook: outage or refusal', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  const answering = async (status: number, headers: Record<string, string> = {}): Promise<WebhookNotifier> => {
    server = createServer((_req, res) => res.writeHead(status, headers).end('no'));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    return new WebhookNotifier({
      url: `http://127.0.0.1:${port}/events`,
      secret: 's',
      timeoutMs: 2000,
      instanceId: 't',
    });
  };
  const failure = async (n: WebhookNotifier): Promise<DeliveryFailed> => {
    const err = await n.deliver(event, { attempt: 1, signal: new AbortController().signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryFailed);
    return err as DeliveryFailed;
  };

  it('503, 502 and 429 are outages (retried, never dead), with the Retry-After they ask for', async () => {
    expect(await failure(await answering(503, { 'Retry-After': '120' }))).toMatchObject({
      unreachable: true,
      retryAfterMs: 120_000,
    });
    server?.close();
    expect(await failure(await answering(429))).toMatchObject({ unreachable: true, retryAfterMs: undefined });
    server?.close();
    // A proxy in front of a Doctor Service that is down (nginx: connection refused upstream).
    expect(await failure(await answering(502))).toMatchObject({ unreachable: true });
  });

  it('any other 4xx or 5xx is a refusal that counts towards dead', async () => {
    for (const status of [400, 404, 500]) {
      expect(await failure(await answering(status, { 'Retry-After': '5' }))).toMatchObject({
        unreachable: false,
        retryAfterMs: undefined,
      });
      server?.close();
    }
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-12-06T10:00:00Z');
    expect(retryAfterMsOf('30', now)).toBe(30_000);
    expect(retryAfterMsOf('Sun, 06 Dec 2026 10:01:00 GMT', now)).toBe(60_000);
    expect(retryAfterMsOf('soon', now)).toBeUndefined();
    expect(retryAfterMsOf(null, now)).toBeUndefined();
  });
});
