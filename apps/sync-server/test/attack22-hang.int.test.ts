// Attack on issue 22's batched single-X-ray reads (xray.loader.ts) while PostgreSQL hangs: a read
// that arrives while another read's statement is in flight waits for that statement before its own
// goes out. The configuration promises that DATABASE_CONNECT_TIMEOUT_MS plus
// DATABASE_STATEMENT_TIMEOUT_MS (+1 s) bounds how long a request waits on the database (docs: an
// answer within 10 s by default). The database here sits behind a TCP proxy that can freeze (it
// keeps every connection open and forwards nothing, as a hung host or a partition does).
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { makePng } from '@xray/testkit';
import { XraySchema } from '@xray/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  blobOf,
  createTestDatabase,
  headerActor,
  postXray,
  startTestServer,
  validMetadata,
  type TestServer,
} from './harness.ts';

const CONNECT_TIMEOUT_MS = 1_000;
const STATEMENT_TIMEOUT_MS = 2_000;
/** What the settings promise: a connection within CONNECT, a statement answered within STATEMENT + 1 s. */
const PROMISED_MS = CONNECT_TIMEOUT_MS + STATEMENT_TIMEOUT_MS + 1_000;
/** Slack for a busy machine. */
const SLACK_MS = 600;

const PARAMEDIC = 'para-a22h; paramedic';
const DOCTOR = 'doc-a22h; doctor';

interface FreezableProxy {
  port: number;
  freeze(): void;
  /** Drops every connection and forwards new ones again. */
  thaw(): void;
  close(): Promise<void>;
}

async function freezableProxy(target: URL): Promise<FreezableProxy> {
  const pairs = new Set<{ client: net.Socket; upstream?: net.Socket }>();
  let frozen = false;
  const server = net.createServer((client) => {
    const pair: { client: net.Socket; upstream?: net.Socket } = { client };
    pairs.add(pair);
    client.on('error', () => undefined);
    client.on('close', () => {
      pairs.delete(pair);
      pair.upstream?.destroy();
    });
    // Frozen: the connection is accepted (as the kernel of a hung host does) and never answered.
    if (frozen) return;
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    pair.upstream = upstream;
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    freeze() {
      frozen = true;
      for (const { client, upstream } of pairs) {
        if (upstream) {
          client.unpipe(upstream);
          upstream.unpipe(client);
          upstream.pause();
        }
        client.pause();
      }
    },
    thaw() {
      frozen = false;
      for (const { client, upstream } of pairs) {
        upstream?.destroy();
        client.destroy();
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('attack 22: batched reads while PostgreSQL hangs', () => {
  let proxy: FreezableProxy;
  let server: TestServer;
  let id: string;

  beforeAll(async () => {
    const direct = new URL(await createTestDatabase());
    proxy = await freezableProxy(direct);
    const viaProxy = new URL(direct);
    viaProxy.port = String(proxy.port);
    server = await startTestServer(
      'fs',
      {
        DATABASE_URL: viaProxy.toString(),
        DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
        DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
      },
      { authenticate: headerActor },
    );
    const res = await postXray(
      server.url,
      validMetadata({ patientId: `P-A22H-${randomUUID().slice(0, 6)}` }),
      blobOf(makePng({ seed: 2201 })),
      { 'X-Test-Actor': PARAMEDIC },
    );
    expect(res.status).toBe(201);
    id = XraySchema.parse(await res.json()).id;
  });
  afterAll(async () => {
    proxy?.thaw();
    await server?.close();
    await proxy?.close();
  });

  it('a read that arrives while another read waits on a hung database is still answered 503 within the promised bound', async () => {
    // The pool has connections open and idle, as it has on any server that has been busy.
    await Promise.all(Array.from({ length: 4 }, () => server.pool.query('SELECT pg_sleep(0.05)')));
    expect((await fetch(`${server.url}/xrays/${id}`, { headers: { 'X-Test-Actor': DOCTOR } })).status).toBe(200);

    proxy.freeze();
    const timed = async (delayMs: number) => {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      const started = Date.now();
      const res = await fetch(`${server.url}/xrays/${id}`, {
        headers: { 'X-Test-Actor': DOCTOR },
        signal: AbortSignal.timeout(20_000),
      });
      const body = (await res.json()) as { code?: string };
      return {
        status: res.status,
        code: body.code,
        retryAfter: res.headers.get('retry-after'),
        ms: Date.now() - started,
      };
    };
    // The first read's statement goes out at once and hangs; the second arrives while it is in flight.
    const [first, second] = await Promise.all([timed(0), timed(300)]);
    for (const answer of [first, second]) {
      expect(answer).toMatchObject({ status: 503, code: 'unavailable', retryAfter: '5' });
    }
    expect(first.ms).toBeLessThan(PROMISED_MS + SLACK_MS);
    // Before the fix the second read waited out the first read's statement timeout, then its own.
    expect(second.ms, `second read answered after ${second.ms} ms`).toBeLessThan(PROMISED_MS + SLACK_MS);
  });

  it('a refusal whose audit event queues behind a hung audit batch is answered within the promised bound too', async () => {
    proxy.thaw();
    // The pool learns of the connections the thaw cut as it hands them out: until four open again.
    for (let ok = 0; ok < 4;) {
      const tries = await Promise.allSettled(
        Array.from({ length: 4 }, () => server.pool.query('SELECT pg_sleep(0.05)')),
      );
      ok = tries.filter((t) => t.status === 'fulfilled').length;
    }
    const refused = async (delayMs: number) => {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      const started = Date.now();
      // A token with no role: refused before any X-ray is read; only its audit event needs the database.
      const res = await fetch(`${server.url}/xrays/${id}`, {
        headers: { 'X-Test-Actor': 'nobody-a22h;' },
        signal: AbortSignal.timeout(20_000),
      });
      await res.arrayBuffer();
      return { status: res.status, ms: Date.now() - started };
    };
    expect((await refused(0)).status).toBe(403);

    proxy.freeze();
    const [first, second] = await Promise.all([refused(0), refused(300)]);
    expect(first.status).toBe(403);
    expect(second.status).toBe(403);
    expect(first.ms).toBeLessThan(PROMISED_MS + SLACK_MS);
    expect(second.ms, `second refusal answered after ${second.ms} ms`).toBeLessThan(PROMISED_MS + SLACK_MS);
  });
});
