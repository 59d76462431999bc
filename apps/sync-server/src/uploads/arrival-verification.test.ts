import { Readable } from 'node:stream';
import { DataStore } from '@tus/utils';
import { encryptBytes, generateDek, loadDicomReader } from '@xray/shared';
import { makeDicom, sha256Hex } from '@xray/testkit';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArrivalVerifications } from './arrival-verification.ts';

/** One stored upload, shared by the "instances" below as a bucket or a shared disk would be. */
class SharedBytes {
  data = new Map<string, Buffer>();
  writes = new Map<string, number>();
  countWrite = async (id: string) => {
    const n = (this.writes.get(id) ?? 0) + 1;
    this.writes.set(id, n);
    return n;
  };
}

/** A tus store in memory. `next` makes the next write keep fewer bytes than it read, or fail. */
class MemoryStore extends DataStore {
  next: { keep?: number; fail?: Error } = {};
  constructor(private readonly shared: SharedBytes) {
    super();
  }
  override async write(src: Readable, id: string, offset: number): Promise<number> {
    const chunks: Buffer[] = [];
    for await (const c of src) chunks.push(c as Buffer);
    const { keep, fail } = this.next;
    this.next = {};
    const stored = Buffer.concat(chunks).subarray(0, keep);
    const before = this.shared.data.get(id) ?? Buffer.alloc(0);
    this.shared.data.set(id, Buffer.concat([before.subarray(0, offset), stored]));
    if (fail) throw fail;
    return offset + stored.length;
  }
  override async remove(id: string): Promise<void> {
    this.shared.data.delete(id);
  }
}

/** An instance: its own verifications around its own view of the shared store. */
function instance(shared: SharedBytes, opts: { budgetBytes?: number; idleMs?: number; now?: () => number } = {}) {
  const arrivals = new ArrivalVerifications({
    maxPlaintextBytes: 64 * 1024 * 1024,
    countWrite: shared.countWrite,
    ...opts,
  });
  const raw = new MemoryStore(shared);
  const store = arrivals.wrap(raw);
  const patch = (id: string, offset: number, body: Uint8Array) =>
    store.write(Readable.from([Buffer.from(body)]), id, offset);
  return { arrivals, raw, store, patch };
}

const SEG = 64 * 1024;
/** What the data key was unwrapped from (these tests give the raw key directly). */
const UPLOADED_DEK = { wrapped: new Uint8Array([1]), kid: 'test' };
const plain = makeDicom({ rows: 256, columns: 256, seed: 3 });

async function sealed() {
  const dek = await generateDek();
  const rawKey = new Uint8Array(await crypto.subtle.exportKey('raw', dek));
  const cipher = Buffer.from(await encryptBytes(dek, plain, { segmentSize: SEG }));
  return { rawKey, cipher };
}

/** Sends `cipher` in PATCHes of `size`, from `from`. */
async function sendAll(
  patch: (id: string, offset: number, body: Uint8Array) => Promise<number>,
  id: string,
  cipher: Buffer,
  size: number,
  from = 0,
) {
  let offset = from;
  while (offset < cipher.length) offset = await patch(id, offset, cipher.subarray(offset, offset + size));
  return offset;
}

describe('ArrivalVerifications: tus PATCHes verified on their way to the store', () => {
  // As on a server that has read a DICOM before: the reader is loaded. (The first DICOM after a
  // start may end before it is; its finish then reads the object back, as test/uploads.* show.)
  beforeAll(() => loadDicomReader());
  let shared: SharedBytes;
  beforeEach(() => {
    shared = new SharedBytes();
  });

  it('gives the same content as a read-back when every PATCH went through it', async () => {
    const { rawKey, cipher } = await sealed();
    const a = instance(shared);
    a.arrivals.begin('u1', Promise.resolve(rawKey), UPLOADED_DEK);
    expect(await sendAll(a.patch, 'u1', cipher, 100_003)).toBe(cipher.length);
    expect(shared.data.get('u1')!.equals(cipher)).toBe(true);
    const verified = await a.arrivals.take('u1', cipher.length);
    expect(verified?.content).toMatchObject({
      sha256: sha256Hex(plain),
      sizeBytes: plain.length,
      contentType: 'application/dicom',
    });
    expect(verified?.content.dicom).toMatchObject({ rows: 256, columns: 256 });
    expect(Buffer.from(verified!.rawKey).equals(Buffer.from(rawKey))).toBe(true);
    expect(a.arrivals.size).toBe(0); // taken is forgotten
    expect(await a.arrivals.take('u1', cipher.length)).toBeUndefined();
  });

  it('keeps working when an aborted PATCH stored exactly what it read, and the client resumes there', async () => {
    const { rawKey, cipher } = await sealed();
    const a = instance(shared);
    a.arrivals.begin('u1', Promise.resolve(rawKey), UPLOADED_DEK);
    // A client that vanished mid-body: the store keeps all it received, and says so.
    const cut = await a.patch('u1', 0, cipher.subarray(0, 70_001));
    expect(cut).toBe(70_001);
    await sendAll(a.patch, 'u1', cipher, 1 << 20, cut);
    expect((await a.arrivals.take('u1', cipher.length))?.content.sha256).toBe(sha256Hex(plain));
  });

  it('drops the upload when the store persisted fewer bytes than went through (S3 keeping less)', async () => {
    const { rawKey, cipher } = await sealed();
    const a = instance(shared);
    a.arrivals.begin('u1', Promise.resolve(rawKey), UPLOADED_DEK);
    a.raw.next = { keep: 50_000 };
    expect(await a.patch('u1', 0, cipher.subarray(0, 80_000))).toBe(50_000);
    expect(a.arrivals.size).toBe(0);
    await sendAll(a.patch, 'u1', cipher, 1 << 20, 50_000);
    expect(await a.arrivals.take('u1', cipher.length)).toBeUndefined();
  });

  it('drops the upload when a write fails', async () => {
    const { rawKey, cipher } = await sealed();
    const a = instance(shared);
    a.arrivals.begin('u1', Promise.resolve(rawKey), UPLOADED_DEK);
    a.raw.next = { fail: new Error('disk full') };
    await expect(a.patch('u1', 0, cipher.subarray(0, 80_000))).rejects.toThrow('disk full');
    expect(a.arrivals.size).toBe(0);
  });

  it('drops the upload when another instance took a PATCH, even if the offsets line up again', async () => {
    const { rawKey, cipher } = await sealed();
    const a = instance(shared);
    const b = instance(shared);
    a.arrivals.begin('u1', Promise.resolve(rawKey), UPLOADED_DEK);
    const mid = await a.patch('u1', 0, cipher.subarray(0, 100_000));
    // Instance b rewrites the tail of what a verified (as a lost S3 incomplete part would let it),
    // with other bytes, and ends at the very offset a expects next.
    const forged = Buffer.from(cipher.subarray(60_000, mid));
    forged[10]! ^= 0xff;
    expect(await b.patch('u1', 60_000, forged)).toBe(mid);
    await sendAll(a.patch, 'u1', cipher, 1 << 20, mid);
    expect(shared.data.get('u1')!.equals(cipher)).toBe(false);
    expect(await a.arrivals.take('u1', cipher.length)).toBeUndefined();
  });

  it('drops the upload when a PATCH starts where it has not got to (a restart, another instance)', async () => {
    const { rawKey, cipher } = await sealed();
    const a = instance(shared);
    a.arrivals.begin('u1', Promise.resolve(rawKey), UPLOADED_DEK);
    await a.patch('u1', 0, cipher.subarray(0, 1000));
    await a.patch('u1', 2000, cipher.subarray(2000, 3000));
    expect(a.arrivals.size).toBe(0);
  });

  it('leaves refusals to the read-back: bad ciphertext, a wrong size, a key that does not unwrap', async () => {
    const { rawKey, cipher } = await sealed();
    const a = instance(shared);
    const tampered = Buffer.from(cipher);
    tampered[200]! ^= 1;
    a.arrivals.begin('bad', Promise.resolve(rawKey), UPLOADED_DEK);
    await sendAll(a.patch, 'bad', tampered, 1 << 20);
    expect(await a.arrivals.take('bad', cipher.length)).toBeUndefined();

    a.arrivals.begin('short', Promise.resolve(rawKey), UPLOADED_DEK);
    await sendAll(a.patch, 'short', cipher.subarray(0, cipher.length - 1), 1 << 20);
    expect(await a.arrivals.take('short', cipher.length)).toBeUndefined();

    a.arrivals.begin('nokey', Promise.reject(new Error('cannot unwrap')), UPLOADED_DEK);
    await sendAll(a.patch, 'nokey', cipher, 1 << 20);
    expect(await a.arrivals.take('nokey', cipher.length)).toBeUndefined();
  });

  it('forgets terminated uploads, idle ones, and the least recently used beyond its memory budget', async () => {
    const { rawKey, cipher } = await sealed();
    let now = 0;
    const a = instance(shared, { budgetBytes: 150_000, idleMs: 1000, now: () => now });
    for (const id of ['t', 'x', 'y', 'z']) a.arrivals.begin(id, Promise.resolve(rawKey), UPLOADED_DEK);
    await a.store.remove('t');
    expect(a.arrivals.size).toBe(3);
    // Each now holds a segment buffer and the DICOM header, no more (the header ends where the pixel
    // data begins: ~65 KiB in all): two fit.
    for (const id of ['x', 'y', 'z']) await a.patch(id, 0, cipher.subarray(0, 100_000));
    expect(a.arrivals.size).toBe(2);
    expect(await a.arrivals.take('x', cipher.length)).toBeUndefined();
    now = 5000;
    a.arrivals.begin('w', Promise.resolve(rawKey), UPLOADED_DEK);
    expect(a.arrivals.size).toBe(1);
  });
});
