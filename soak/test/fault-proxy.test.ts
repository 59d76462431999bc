import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CLEAN_LINK, FaultProxy, type LinkProfile } from '../src/fault-proxy.ts';

/** An echo server: what it receives comes back, so a client sees the link both ways. */
async function echoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Sends `payload`, half-closes, and collects the echo until the connection ends or fails. */
function roundTrip(port: number, payload: Buffer): Promise<{ echoed: Buffer; error?: string; ended: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => resolve({ echoed: Buffer.concat(chunks), ended: true }));
    s.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ echoed: Buffer.concat(chunks), error: err.code ?? err.message, ended: false }),
    );
    s.on('connect', () => s.end(payload));
  });
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rig(profile: Partial<LinkProfile>, random?: () => number) {
  const echo = await echoServer();
  const proxy = new FaultProxy({
    name: 'test',
    upstreams: () => [{ host: '127.0.0.1', port: echo.port }],
    profile: () => ({ ...CLEAN_LINK, ...profile }),
    ...(random ? { random } : {}),
  });
  await proxy.listen();
  cleanups.push(
    () => echo.close(),
    () => proxy.close(),
  );
  return { echo, proxy };
}

describe('fault-injecting TCP proxy', () => {
  it('delivers every byte in order under latency, jitter and a bandwidth cap, and counts them', async () => {
    const { proxy } = await rig({ latencyMs: 20, jitterMs: 15, bytesPerSecond: 4 * 1024 * 1024 });
    const payload = randomBytes(3 * 1024 * 1024);
    const { echoed, error } = await roundTrip(proxy.port, payload);
    expect(error).toBeUndefined();
    expect(sha(echoed)).toBe(sha(payload));
    expect(proxy.stats.bytesUp).toBe(payload.length);
    expect(proxy.stats.bytesSent).toBe(payload.length);
    expect(proxy.stats.bytesDown).toBe(payload.length);
  });

  it('counts the bytes a black hole or a reset throws away as sent by the client, not as delivered', async () => {
    const hole = await rig({ blackholeChance: 1 }, () => 0);
    const s = net.connect({ host: '127.0.0.1', port: hole.proxy.port });
    s.on('error', () => undefined);
    await new Promise((r) => s.once('connect', r));
    await new Promise<void>((r) => s.write(randomBytes(1024 * 1024), () => r()));
    await expect.poll(() => hole.proxy.stats.bytesSent).toBe(1024 * 1024);
    expect(hole.proxy.stats.bytesUp).toBe(0);
    s.destroy();

    // Reset at once on a 256 KiB/s link: what the client had sent into the proxy was never delivered.
    const cut = await rig({ resetChance: 1, faultWithinMs: 1, bytesPerSecond: 256 * 1024 }, () => 0);
    const { error } = await roundTrip(cut.proxy.port, randomBytes(2 * 1024 * 1024));
    expect(error).toBe('ECONNRESET');
    expect(cut.proxy.stats.bytesSent).toBeGreaterThan(cut.proxy.stats.bytesUp);
  });

  it('a reset connection fails at the client with ECONNRESET', async () => {
    const { proxy } = await rig({ resetChance: 1, faultWithinMs: 1, bytesPerSecond: 256 * 1024 }, () => 0);
    const { error } = await roundTrip(proxy.port, randomBytes(2 * 1024 * 1024));
    expect(error).toBe('ECONNRESET');
    expect(proxy.stats.resets).toBe(1);
  });

  it('a black hole accepts the connection and never answers', async () => {
    const { proxy } = await rig({ blackholeChance: 1 }, () => 0);
    const s = net.connect({ host: '127.0.0.1', port: proxy.port });
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    await new Promise((r) => s.once('connect', r));
    s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    // Whatever the client waits, nothing comes back and the connection stays open.
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toEqual([]);
    expect(s.destroyed).toBe(false);
    expect(proxy.stats.blackholes).toBe(1);
    s.destroy();
  });

  it('a half-closed connection ends one direction while the other stays open', async () => {
    // random() = 0 picks a half-close of the client side: the client gets a FIN, not its echo.
    let n = 0;
    const { proxy } = await rig({ halfCloseChance: 1, faultWithinMs: 1, bytesPerSecond: 256 * 1024 }, () =>
      n++ === 0 ? 0.99 : 0,
    );
    const payload = randomBytes(2 * 1024 * 1024);
    const { echoed, ended } = await roundTrip(proxy.port, payload);
    expect(ended).toBe(true);
    expect(echoed.length).toBeLessThan(payload.length);
    expect(proxy.stats.halfCloses).toBe(1);
  });

  it('half-closes every open connection towards the upstream on demand; answers still come back', async () => {
    const { proxy } = await rig({ bytesPerSecond: 256 * 1024 });
    const s = net.connect({ host: '127.0.0.1', port: proxy.port });
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    const ended = new Promise<void>((r) => s.once('end', () => r()));
    await new Promise((r) => s.once('connect', r));
    s.write(randomBytes(1024 * 1024)); // four seconds on this link
    await expect.poll(() => proxy.stats.bytesUp, { timeout: 5_000 }).toBeGreaterThan(100 * 1024);
    proxy.halfCloseAllTowardsUpstream();
    // The echo server saw its client end: it echoed what reached it and ended; the client hears both.
    await ended;
    const echoed = Buffer.concat(got).length;
    expect(echoed).toBeGreaterThan(0);
    expect(echoed).toBeLessThan(1024 * 1024);
    expect(proxy.stats.halfCloses).toBe(1);
    s.destroy();
  });

  it('a link taken down resets open connections and refuses new ones until it is up again', async () => {
    const { proxy } = await rig({ bytesPerSecond: 128 * 1024 });
    const open = roundTrip(proxy.port, randomBytes(1024 * 1024));
    await new Promise((r) => setTimeout(r, 100));
    proxy.setDown(true);
    expect((await open).error).toBe('ECONNRESET');
    expect((await roundTrip(proxy.port, Buffer.from('x'))).error).toBe('ECONNRESET');
    proxy.setDown(false);
    const back = await roundTrip(proxy.port, Buffer.from('hello'));
    expect(back.echoed.toString()).toBe('hello');
  });

  it('tries the next upstream when one refuses (an instance down behind the balancer)', async () => {
    const echo = await echoServer();
    const closed = await echoServer();
    await closed.close();
    const proxy = new FaultProxy({
      name: 'lb',
      upstreams: () => [
        { host: '127.0.0.1', port: closed.port },
        { host: '127.0.0.1', port: echo.port },
      ],
      profile: () => CLEAN_LINK,
    });
    await proxy.listen();
    cleanups.push(
      () => echo.close(),
      () => proxy.close(),
    );
    expect((await roundTrip(proxy.port, Buffer.from('still here'))).echoed.toString()).toBe('still here');
  });
});
