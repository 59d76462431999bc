import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import net from 'node:net';
import { makePng, sha256Hex } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  asOwner,
  blobOf,
  createTestDatabase,
  postXray,
  startTestServer,
  storedObjects,
  validMetadata,
  type TestServer,
} from './harness.ts';
import { migrate } from '../src/db/migrate.ts';
import { createLogger } from '../src/observability/logger.ts';
import { runAdmin } from './server-process.ts';
import { downloadSha, sealed, tusCreate } from './tus-client.ts';

/**
 * A TCP proxy in front of PostgreSQL that, once armed, holds back the COMMIT of the first
 * transaction that inserts an X-ray (and everything after it on that connection) until released:
 * a network stall or a disk stall at the worst moment. The COMMIT reaches PostgreSQL later, and
 * PostgreSQL commits it, after the client gave up on its answer.
 */
function commitHoldingProxy(target: URL) {
  let armed: string | undefined;
  let holding: { upstream: net.Socket; chunks: Buffer[]; ended: boolean } | undefined;
  let held: () => void = () => undefined;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    let wrote = false;
    let hold: Buffer[] | undefined;
    upstream.on('data', (d) => client.write(d));
    upstream.on('end', () => client.end());
    upstream.on('error', () => client.destroy());
    client.on('error', () => undefined);
    client.on('data', (d: Buffer) => {
      if (hold) return void hold.push(d);
      const text = d.toString('latin1');
      if (armed && text.includes(armed)) wrote = true;
      if (armed && wrote && text.includes('COMMIT\u0000')) {
        armed = undefined;
        hold = [d];
        holding = { upstream, chunks: hold, ended: false };
        held();
        return;
      }
      upstream.write(d);
    });
    client.on('end', () => {
      if (hold && holding) holding.ended = true;
      else upstream.end();
    });
  });
  return {
    server,
    /** Holds the COMMIT of the next transaction whose statements include `statement`; resolves once it is held. */
    arm: (statement: string) => {
      armed = statement;
      return new Promise<void>((resolve) => (held = resolve));
    },
    /** Lets the held COMMIT (and the client's goodbye) through. */
    release: () => {
      if (!holding) return;
      for (const c of holding.chunks) holding.upstream.write(c);
      if (holding.ended) holding.upstream.end();
      holding = undefined;
    },
  };
}

// Attack on issue 23's timeouts: the client now abandons any statement after
// DATABASE_STATEMENT_TIMEOUT_MS + 1 s, COMMIT included. An abandoned COMMIT may still commit.
describe('a COMMIT whose answer never came', () => {
  let server: TestServer;
  let proxy: ReturnType<typeof commitHoldingProxy>;

  beforeAll(async () => {
    const direct = new URL(await createTestDatabase());
    proxy = commitHoldingProxy(direct);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    const proxied = new URL(direct);
    proxied.hostname = '127.0.0.1';
    proxied.port = String((proxy.server.address() as net.AddressInfo).port);
    server = await startTestServer('fs', {
      DATABASE_URL: proxied.toString(),
      DATABASE_STATEMENT_TIMEOUT_MS: '1000',
    });
  }, 60_000);

  afterAll(async () => {
    proxy?.release();
    await server?.close();
    proxy?.server.close();
  });

  it('does not delete the object of an X-ray that committed after all: it downloads sha256-equal', async () => {
    const png = makePng({ seed: 2301 });
    const id = randomUUID();
    const commitHeld = proxy.arm('INSERT INTO xrays');
    const answer = postXray(server.url, validMetadata({ id }), blobOf(png));
    await commitHeld;
    // The client gave up on the COMMIT: the upload is refused as the database being unavailable…
    const res = await answer;
    expect(res.status).toBe(503);
    // …and then the COMMIT arrives and PostgreSQL commits it.
    proxy.release();
    for (let i = 0; i < 100 && (await server.pool.query('SELECT 1 FROM xrays WHERE id = $1', [id])).rowCount === 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect((await server.pool.query('SELECT 1 FROM xrays WHERE id = $1', [id])).rowCount).toBe(1);
    // The X-ray exists: its bytes must too (the edge, retrying, is told it is already stored).
    expect(await downloadSha(server.url, id)).toBe(sha256Hex(png));
    const again = await postXray(server.url, validMetadata({ id }), blobOf(png));
    expect(again.status).toBe(200);
    expect(await downloadSha(server.url, id)).toBe(sha256Hex(png));
  }, 60_000);

  it('keeps the tombstone of a delete whose COMMIT went unanswered: once it lands, recover keeps the X-ray erased', async () => {
    const png = makePng({ seed: 2303 });
    const id = randomUUID();
    expect((await postXray(server.url, validMetadata({ id }), blobOf(png))).status).toBe(201);
    const commitHeld = proxy.arm('DELETE FROM xrays');
    const answer = fetch(`${server.url}/xrays/${id}`, { method: 'DELETE' });
    await commitHeld;
    expect((await answer).status).toBe(503);
    proxy.release();
    for (let i = 0; i < 100 && (await server.pool.query('SELECT 1 FROM xrays WHERE id = $1', [id])).rowCount === 1; i++)
      await new Promise((r) => setTimeout(r, 100));
    // The delete committed after all: the client, retrying, is told there is no such X-ray…
    expect((await fetch(`${server.url}/xrays/${id}`, { method: 'DELETE' })).status).toBe(404);
    // …and what the store still holds of it must not bring it back.
    const run = await runAdmin(['recover'], server.env);
    expect(run.stdout).not.toMatch(new RegExp(`recovered: X-ray ${id}`));
    expect(run.stdout).toMatch(new RegExp(`erased again: X-ray ${id}`));
    expect((await fetch(`${server.url}/xrays/${id}`)).status).toBe(404);
    expect((await storedObjects(server)).filter((k) => k.includes(id) && !k.endsWith('.deleted'))).toEqual([]);
  }, 90_000);
});

// Attack on issue 23's /readyz KEK check: a row whose KEK is gone is readable through its previous
// wrap only when that wrap is bound (xray.service.ts); an unbound (legacy AES-KW) previous wrap
// does not make it readable, so it must not make the instance ready either.
describe('/readyz and a previous wrap that cannot be used', () => {
  let server: TestServer;
  afterAll(async () => {
    await server?.close();
  });

  it('is not ready while a row under a missing KEK has only an unbound previous wrap, and its download fails', async () => {
    const current = randomBytes(32).toString('base64');
    server = await startTestServer('fs', {
      DATABASE_URL: await createTestDatabase(),
      KEK: `kek-here:${current}`,
      KEK_CURRENT_ID: 'kek-here',
      UPLOAD_PRIVATE_KEY: generateKeyPairSync('rsa', { modulusLength: 3072 })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString(),
    });
    const id = randomUUID();
    expect((await postXray(server.url, validMetadata({ id }), blobOf(makePng({ seed: 2302 })))).status).toBe(201);
    // As after rotate-kek from a legacy AES-KW wrap to a KEK this replica was never given: the row's
    // wrap is under "kek-gone", the wrap it kept is an unbound one under a KEK this replica has.
    await asOwner(
      server,
      `UPDATE xrays SET kek_id = 'kek-gone', kek_id_prev = 'kek-here',
         dek_wrapped_prev = decode('${randomBytes(40).toString('hex')}', 'hex') WHERE id = '${id}'`,
    );
    expect((await fetch(`${server.url}/xrays/${id}/download`)).status).toBeGreaterThanOrEqual(500);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: { keys: string } }).checks.keys).toMatch(/KEK "kek-gone"/);
  }, 60_000);
});

describe('xray-admin retry-dead with a mistyped sink', () => {
  it('refuses it instead of reporting that 0 dead deliveries were put back', async () => {
    const DATABASE_URL = await createTestDatabase();
    await migrate(DATABASE_URL, createLogger('silent'));
    const run = await runAdmin(['retry-dead', '--sink', 'webhooks'], { DATABASE_URL });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/--sink must be one of webhook, amqp/);
    expect(run.stdout).not.toMatch(/OK/);
  }, 60_000);
});

// Attack on issue 23's timeouts: a tus PATCH holds its upload's lock connection for as long as a slow
// link takes to send the chunk; neither statement_timeout nor idle_in_transaction may cut it off.
describe('a slow PATCH under short database timeouts', () => {
  let server: TestServer;
  afterAll(async () => {
    await server?.close();
  });

  it('is stored whole although it takes several times the statement and idle-in-transaction timeouts', async () => {
    server = await startTestServer('fs', {
      DATABASE_STATEMENT_TIMEOUT_MS: '500',
      DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '500',
    });
    const png = makePng({ seed: 2304, width: 256, height: 256 });
    const upload = await sealed(server.url, png);
    const uploadUrl = await tusCreate(server.url, upload.body, upload.metadata);
    const parts = 8;
    const size = Math.ceil(upload.body.length / parts);
    let i = 0;
    const slow = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (i >= parts) return controller.close();
        // A slow link: a piece every 400 ms, about 3 s in all.
        await new Promise((r) => setTimeout(r, 400));
        controller.enqueue(new Uint8Array(upload.body.subarray(i * size, (i + 1) * size)));
        i++;
      },
    });
    const res = await fetch(uploadUrl, {
      method: 'PATCH',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Offset': '0',
        'Content-Type': 'application/offset+octet-stream',
      },
      body: slow,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(204);
    expect(await downloadSha(server.url, upload.metadata.id ?? '')).toBe(sha256Hex(png));
  }, 60_000);
});
