import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { request, Agent } from 'node:http';
import { makePng } from '@xray/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { blobOf, createTestDatabase, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';

const UPLOAD_KEY = generateKeyPairSync('rsa', { modulusLength: 3072 })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
const kek = () => randomBytes(32).toString('base64');

describe('/readyz and keys', () => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close().catch(() => undefined);
  });

  it('fails, naming the KEK and the X-rays it strands, while a row is wrapped under a KEK this instance lacks', async () => {
    const DATABASE_URL = await createTestDatabase();
    const [old, current] = [kek(), kek()];
    // A replica missed in a rolling restart: still has (and wraps with) the old KEK.
    const straggler = await startTestServer('fs', {
      DATABASE_URL,
      KEK: `kek-old:${old},kek-new:${current}`,
      KEK_CURRENT_ID: 'kek-old',
      UPLOAD_PRIVATE_KEY: UPLOAD_KEY,
    });
    servers.push(straggler);
    const res = await postXray(straggler.url, validMetadata(), blobOf(makePng({ seed: 3 })));
    expect(res.status).toBe(201);
    await straggler.close();

    // The old KEK removed: the instance starts, but says it is not ready, and why.
    const server = await startTestServer('fs', {
      DATABASE_URL,
      KEK: `kek-new:${current}`,
      UPLOAD_PRIVATE_KEY: UPLOAD_KEY,
    });
    servers.push(server);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { checks: { keys: string } };
    expect(body.checks.keys).toMatch(/1 X-ray\(s\) are wrapped under KEK "kek-old", which this instance does not have/);

    // Given the key back (from the key backup), it is ready again.
    await server.close();
    const restored = await startTestServer('fs', {
      DATABASE_URL,
      KEK: `kek-new:${current},kek-old:${old}`,
      UPLOAD_PRIVATE_KEY: UPLOAD_KEY,
    });
    servers.push(restored);
    expect((await fetch(`${restored.url}/readyz`)).status).toBe(200);
  });
});

describe('SIGTERM behind a proxy', () => {
  let server: TestServer;
  afterAll(async () => {
    await server?.close();
  });

  it('closes a kept-alive connection once its running request is answered, not at the end of the grace period', async () => {
    // A grace period far longer than this test's timeout: the stop must not wait for it.
    server = await startTestServer('fs', { SHUTDOWN_GRACE_MS: '120000' });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const boundary = 'xray-drain-boundary';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="metadata"\r\nContent-Type: application/json\r\n\r\n` +
        `${JSON.stringify(validMetadata())}\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n',
    );
    const file = makePng({ seed: 5 });
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const { port } = new URL(server.url);
    const answered = new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/xrays',
          method: 'POST',
          agent,
          headers: {
            'Content-Type': `multipart/form-data; boundary=${boundary}`,
            'Content-Length': head.length + file.length + tail.length,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
        },
      );
      req.on('error', reject);
      // Half the request now; the rest once the stop has begun.
      req.write(head);
      req.write(file.subarray(0, 10));
      setTimeout(() => {
        stopping = server.stop();
        setTimeout(() => {
          req.write(file.subarray(10));
          req.end(tail);
        }, 200);
      }, 300);
    });
    let stopping: Promise<void> | undefined;
    const answer = await answered;
    // The running request completes, and the proxy is told the connection ends with it.
    expect(answer).toEqual({ status: 201, connection: 'close' });
    await stopping;
    agent.destroy();
  }, 30_000);
});
