import { randomBytes } from 'node:crypto';
import { openSync } from 'node:fs';
import { mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferPool } from './buffer-pool.ts';
import { ReadAheadStream } from './fs.read-ahead.ts';

describe('ReadAheadStream', () => {
  let dir: string;
  let file: string;
  const bytes = randomBytes(1_000_003);

  const openFiles = async () => {
    const fds = await readdir('/proc/self/fd');
    const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
    return targets.filter((t) => t === file);
  };
  const readAll = async (s: ReadAheadStream) => {
    const chunks: Buffer[] = [];
    for await (const c of s) chunks.push(Buffer.from(c as Buffer));
    return { chunks, all: Buffer.concat(chunks) };
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'read-ahead-'));
    file = path.join(dir, 'object');
    await writeFile(file, bytes);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads any range in order as chunks of the asked size, and closes the file at the end', async () => {
    for (const [start, end, chunkSize, readAhead] of [
      [0, bytes.length - 1, 65_536, 2],
      [7, 300_000, 100_000, 3],
      [999_999, bytes.length - 1, 10, 1],
      [5, 5, 4096, 2],
    ] as const) {
      const { chunks, all } = await readAll(
        new ReadAheadStream(openSync(file, 'r'), { start, end }, chunkSize, readAhead, new BufferPool(4)),
      );
      expect(all.equals(bytes.subarray(start, end + 1)), `${start}-${end}`).toBe(true);
      expect(chunks.slice(0, -1).every((c) => c.length === chunkSize)).toBe(true);
    }
    expect(await openFiles()).toEqual([]);
  });

  it('ends early, without stale bytes from a recycled buffer, when the file is shorter than the range', async () => {
    const pool = new BufferPool(4);
    const dirty = pool.take(400_000).fill(0xee);
    pool.give(dirty);
    const { all } = await readAll(
      new ReadAheadStream(openSync(file, 'r'), { start: 900_000, end: 1_500_000 }, 400_000, 2, pool),
    );
    expect(all.equals(bytes.subarray(900_000))).toBe(true);
  });

  it('closes the file once the reads in flight settle when it is destroyed mid-way', async () => {
    const s = new ReadAheadStream(openSync(file, 'r'), { start: 0, end: bytes.length - 1 }, 1000, 4);
    await new Promise((resolve) => s.once('data', resolve));
    s.destroy();
    for (let i = 0; i < 50 && (await openFiles()).length > 0; i++) await sleep(10);
    expect(await openFiles()).toEqual([]);
  });
});
