import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.ts';
import { ObjectChangedError } from '../src/storage/index.ts';
import { S3ObjectStore, type S3StorageConfig } from '../src/storage/s3.store.ts';
import { createTestStorage, type TestStorage } from './harness.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Takes `atLeast` bytes of the stream, then stops reading it (as a paused client does). */
function readSome(stream: Readable, atLeast: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    let n = 0;
    const onData = (c: Buffer) => {
      got.push(c);
      n += c.length;
      if (n < atLeast) return;
      stream.pause();
      stream.off('data', onData);
      stream.off('error', reject);
      resolve(got);
    };
    stream.on('data', onData);
    stream.once('error', reject);
    stream.resume(); // (a data listener alone does not resume a stream paused before)
  });
}

/** Reads the rest into `got`; rejects with the stream's error (what was delivered stays in `got`). */
async function readRest(stream: Readable, got: Buffer[] = []): Promise<Buffer> {
  for await (const c of stream) got.push(c as Buffer);
  return Buffer.concat(got);
}

const released = (stream: Readable) => new Promise<void>((resolve) => stream.once('released', resolve));

/**
 * Reads streamed at a client's pace (GetOptions.clientPaced) let go of their S3 response when left
 * unread, so that paused clients cannot hold the client-paced pool, and go on where they stopped.
 * Pools of one socket and short release times make both visible at once.
 */
describe('S3: a client-paced read left unread lets go of its connection and goes on where it stopped', () => {
  let storage: TestStorage;
  /** Lets go of an unread read only when another read waits for the one socket (or after 10 s). */
  let whenPressed: S3ObjectStore;
  /** Lets go of an unread read after 100 ms in any case. */
  let store: S3ObjectStore;
  let config: S3StorageConfig;
  /** What whenPressed told its observer (the metrics). */
  const told: string[] = [];
  // More than a paused response takes in before it stops reading its socket.
  const bytes = randomBytes(8 * 1024 * 1024);

  beforeAll(async () => {
    storage = await createTestStorage('s3');
    const loaded = loadConfig(storage.env).storage;
    if (loaded.kind !== 's3') throw new Error('not S3');
    config = loaded;
    // Its one connection from the setting (S3_DOWNLOAD_CONNECTIONS), as the server builds it.
    whenPressed = new S3ObjectStore({ ...config, downloadConnections: 1 }, { releaseUnread: { whenPressedMs: 50 } });
    whenPressed.observeClientPaced((event) => told.push(event));
    store = new S3ObjectStore(
      { ...config, downloadConnections: 1 },
      { releaseUnread: { whenPressedMs: 50, idleMs: 100 } },
    );
    await store.put('xrays/r/1', Readable.from([bytes]));
  });
  afterAll(async () => storage?.cleanup());

  it('a paused read gives its socket back as soon as another read waits for it, then delivers the rest: the object, byte for byte', async () => {
    const a = await whenPressed.get('xrays/r/1', undefined, { clientPaced: true });
    let aReleased = false;
    a.once('released', () => (aReleased = true));
    const head = await readSome(a, 1024 * 1024);
    expect(whenPressed.clientPacedPool()).toEqual({ inUse: 1, waiting: 0, limit: 1 });
    // The pool's one socket is a's until it lets go: the second read is answered only then.
    const second = whenPressed.get('xrays/r/1', { start: 5, end: 1028 }, { clientPaced: true });
    await new Promise((r) => setImmediate(r));
    const whileWaiting = whenPressed.clientPacedPool();
    const b = await second;
    expect(aReleased).toBe(true);
    expect(whileWaiting).toEqual({ inUse: 1, waiting: 1, limit: 1 });
    expect(sha(await readRest(b))).toBe(sha(bytes.subarray(5, 1029)));
    // Only what the stream had buffered before it let go is kept.
    expect(a.readableLength).toBeLessThan(256 * 1024);
    expect(sha(await readRest(a, head))).toBe(sha(bytes));
    expect(told).toEqual(['released', 'reopened']);
  });

  it('a Range read paused (twice) mid-way: exactly the asked bytes', async () => {
    const range = { start: 1_000_003, end: 7_345_677 };
    const a = await store.get('xrays/r/1', range, { clientPaced: true });
    const got = await readSome(a, 2 * 1024 * 1024);
    await released(a);
    got.push(...(await readSome(a, 3 * 1024 * 1024)));
    await released(a);
    expect(sha(await readRest(a, got))).toBe(sha(bytes.subarray(range.start, range.end + 1)));
  });

  it('a reader that keeps reading is never let go, even with a release time a tenth of the server’s', async () => {
    // 1 s, not the 100 ms of `store`: a reader on a loaded machine may well be descheduled for that long.
    const steady = new S3ObjectStore(
      { ...config, downloadConnections: 1 },
      { releaseUnread: { whenPressedMs: 50, idleMs: 1_000 } },
    );
    const a = await steady.get('xrays/r/1', undefined, { clientPaced: true });
    let releases = 0;
    a.on('released', () => releases++);
    expect(sha(await readRest(a))).toBe(sha(bytes));
    expect(releases).toBe(0);
  });

  it.each([
    ['replaced', (key: string) => store.put(key, Readable.from([randomBytes(bytes.length)]))],
    ['deleted', (key: string) => store.delete(key)],
  ])('the object %s while the read was paused: the stream fails, with nothing of another object', async (_, change) => {
    const key = `xrays/r/${randomBytes(4).toString('hex')}`;
    const before = randomBytes(3 * 1024 * 1024);
    await store.put(key, Readable.from([before]));
    const events: string[] = [];
    store.observeClientPaced((event) => events.push(event));
    const a = await store.get(key, undefined, { clientPaced: true });
    const got = await readSome(a, 1024 * 1024);
    await released(a);
    await change(key);
    await expect(readRest(a, got)).rejects.toBeInstanceOf(ObjectChangedError);
    // The metrics count it apart from reads let go and reopened.
    expect(events).toEqual(['released', 'changed']);
    const delivered = Buffer.concat(got);
    expect(delivered.equals(before.subarray(0, delivered.length))).toBe(true);
  });

  it('destroyed while paused, or while reopening: nothing leaks (the one socket serves the next read at once)', async () => {
    const a = await store.get('xrays/r/1', undefined, { clientPaced: true });
    await readSome(a, 1024 * 1024);
    a.destroy();
    const b = await store.get('xrays/r/1', undefined, { clientPaced: true });
    await readSome(b, 1024 * 1024);
    await released(b);
    b.resume();
    await new Promise((r) => setImmediate(r)); // reopening...
    b.destroy(); // ...and gone before the answer
    const c = await store.get('xrays/r/1', { start: 0, end: 99 }, { clientPaced: true });
    expect(sha(await readRest(c))).toBe(sha(bytes.subarray(0, 100)));
    expect([a.destroyed, b.destroyed]).toEqual([true, true]);
  });
});
