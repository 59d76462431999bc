/**
 * The raw limits: a bare Node HTTP server with nothing but the bytes.
 * - PUT /files/<name> streams the body to a file and fsyncs it before answering (the durability
 *   the sync server and Orthanc give an upload); GET /files/<name> streams a file back, with a
 *   single `Range`. Bodies are written in ~1 MiB writes, as the sync server writes a tus PATCH
 *   (apps/sync-server/src/uploads/private-file.store.ts): the limit is the tuned way, not the bare
 *   one that pays a thread-pool hand-off for every 64 KiB the socket gives.
 * - PUT /verified/<name> (the verified limit, issue 22) takes an XRE1 object, as the edge uploads
 *   it, with its data key in `X-Xre1-Key` (base64), and does what the sync server must do to any
 *   upload at least: writes it to a file (fsynced) and, in the same process as the bytes pass,
 *   decrypts every segment (AES-256-GCM, node:crypto) and hashes the plaintext (SHA-256). It
 *   answers 201 with the plaintext's sha256 only when every segment's tag verified.
 * - POST /tus and PATCH /tus/<id> (the tus limit): tus 1.0 creation and PATCH and nothing else (no
 *   token, database or audit), the data key in `X-Xre1-Key` at creation; each PATCH's bytes
 *   verified as PUT /verified verifies them and written in ~1 MiB writes; the PATCH that completes
 *   the upload fsyncs it and answers the plaintext's sha256 (`X-Plaintext-Sha256`). What tus's
 *   requests cost at least for the same bytes and chunks, on this server.
 * - PUT /json/<name> keeps a small JSON body in memory; GET /json/<name> answers it (the raw
 *   limit of a metadata read: Node's HTTP server alone, answering what the sync server answers).
 *   node raw-server.process.ts <dir>      prints "listening <port>"
 */
import { createDecipheriv, createHash, type DecipherGCM } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import path from 'node:path';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { headerTotalLengthOf, parseHeader, PREAMBLE_LENGTH, TAG_LENGTH, type Xre1Header } from '@xray/shared';

const dir = process.argv[2];
if (!dir) throw new Error('usage: raw-server.process.ts <dir>');

const routeOf = (url: string | undefined): { file: string; verified: boolean } | undefined => {
  const m = /^\/(files|verified)\/([A-Za-z0-9._-]+)$/.exec(url ?? '');
  return m?.[2] ? { file: path.join(dir, m[2]), verified: m[1] === 'verified' } : undefined;
};

/**
 * Passes XRE1 bytes through unchanged while it decrypts each segment and hashes the plaintext,
 * without buffering a segment: the ciphertext goes through the decipher as it arrives, the tag
 * (the segment's last 16 bytes, where the object's length puts them) is checked at its end. The
 * plaintext goes nowhere but into the hash, which counts only if every tag verified.
 */
class Xre1Verifier extends Transform {
  readonly #key: Buffer;
  readonly #length: number;
  readonly #hash = createHash('sha256');
  #preamble = Buffer.alloc(0);
  #header: { header: Xre1Header; aad: Buffer; totalLength: number } | undefined;
  #segment: { decipher: DecipherGCM; length: number; at: number; tag: Buffer[] } | undefined;
  #index = 0;
  #received = 0;

  constructor(key: Buffer, length: number) {
    super();
    this.#key = key;
    this.#length = length;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.feed(chunk);
      done(null, chunk);
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)));
    }
  }

  override _flush(done: TransformCallback): void {
    done(this.complete ? null : new Error(`the XRE1 object ends early (${this.#received} of ${this.#length} bytes)`));
  }

  /** The plaintext's SHA-256, once the stream has ended without error. */
  get sha256(): string {
    return this.#hash.digest('hex');
  }

  /** Whether the whole object has been taken and every segment verified. */
  get complete(): boolean {
    return this.#header !== undefined && !this.#segment && this.#received === this.#length && this.#index > 0;
  }

  /** Takes the object's next bytes; throws when a segment's tag does not verify. */
  feed(chunk: Buffer): void {
    this.#received += chunk.length;
    let at = 0;
    while (at < chunk.length) {
      if (!this.#header) {
        const have = this.#preamble.length;
        const wanted = have < PREAMBLE_LENGTH ? PREAMBLE_LENGTH : headerTotalLengthOf(this.#preamble);
        const n = Math.min(wanted - have, chunk.length - at);
        this.#preamble = Buffer.concat([this.#preamble, chunk.subarray(at, at + n)]);
        at += n;
        if (this.#preamble.length >= PREAMBLE_LENGTH && this.#preamble.length === headerTotalLengthOf(this.#preamble)) {
          const { header, headerTotalLength } = parseHeader(this.#preamble);
          this.#header = { header, aad: Buffer.from(header.json), totalLength: headerTotalLength };
        }
        continue;
      }
      const { header, aad, totalLength } = this.#header;
      if (!this.#segment) {
        const start = totalLength + this.#index * (header.segmentSize + TAG_LENGTH);
        const length = Math.min(header.segmentSize + TAG_LENGTH, this.#length - start);
        if (length < TAG_LENGTH) throw new Error(`segment ${this.#index} is shorter than its tag`);
        // nonce = prefix(7) ‖ u32be(index) ‖ last flag (packages/shared xre1.format.ts)
        const nonce = Buffer.alloc(12);
        nonce.set(header.noncePrefix);
        nonce.writeUInt32BE(this.#index, 7);
        nonce[11] = start + length === this.#length ? 1 : 0;
        const decipher = createDecipheriv('aes-256-gcm', this.#key, nonce, { authTagLength: TAG_LENGTH });
        decipher.setAAD(aad);
        this.#segment = { decipher, length, at: 0, tag: [] };
      }
      const s = this.#segment;
      const cipherEnd = s.length - TAG_LENGTH;
      if (s.at < cipherEnd) {
        const n = Math.min(cipherEnd - s.at, chunk.length - at);
        this.#hash.update(s.decipher.update(chunk.subarray(at, at + n)));
        s.at += n;
        at += n;
      } else {
        const n = Math.min(s.length - s.at, chunk.length - at);
        s.tag.push(chunk.subarray(at, at + n));
        s.at += n;
        at += n;
      }
      if (s.at === s.length) {
        s.decipher.setAuthTag(Buffer.concat(s.tag));
        // Throws when the tag does not verify: the upload is refused.
        this.#hash.update(s.decipher.final());
        this.#segment = undefined;
        this.#index += 1;
      }
    }
  }
}

/** How many bytes a write gathers before it goes to the file. */
const WRITE_BATCH_BYTES = 1024 * 1024;

/**
 * A stream written to a file in WRITE_BATCH_BYTES writev calls (the last one shorter): a new file,
 * or (`flags` 'r+') an existing one from `position` on. `bytesWritten`: how many it wrote.
 */
class BatchedFileWriter extends Writable {
  readonly #file: string;
  readonly #flags: 'w' | 'r+';
  readonly #position: number;
  #fh: FileHandle | undefined;
  #batch: Buffer[] = [];
  #size = 0;
  bytesWritten = 0;

  constructor(file: string, { flags = 'w', position = 0 }: { flags?: 'w' | 'r+'; position?: number } = {}) {
    super();
    this.#file = file;
    this.#flags = flags;
    this.#position = position;
  }

  override _construct(done: (err?: Error | null) => void): void {
    open(this.#file, this.#flags).then((fh) => {
      this.#fh = fh;
      done();
    }, done);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.#batch.push(chunk);
    this.#size += chunk.length;
    if (this.#size < WRITE_BATCH_BYTES) return done();
    this.#flush().then(() => done(), done);
  }

  override _final(done: (err?: Error | null) => void): void {
    this.#flush().then(() => done(), done);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    const closed = this.#fh?.close() ?? Promise.resolve();
    closed.then(
      () => done(err),
      () => done(err),
    );
  }

  async #flush(): Promise<void> {
    const [buffers, size] = [this.#batch, this.#size];
    this.#batch = [];
    this.#size = 0;
    await writeAll(this.#fh!, buffers, size, this.#position + this.bytesWritten);
    this.bytesWritten += size;
  }
}

/** Writes `buffers` (`size` bytes) at `position`, going on after a short write. */
async function writeAll(fh: FileHandle, buffers: Buffer[], size: number, position: number): Promise<void> {
  let rest = buffers;
  for (let left = size, at = position; left > 0;) {
    const { bytesWritten } = await fh.writev(rest, at);
    if (bytesWritten <= 0) throw new Error(`wrote nothing at ${at}`);
    left -= bytesWritten;
    at += bytesWritten;
    if (left > 0) rest = [Buffer.concat(rest).subarray(bytesWritten)];
  }
}

async function fsync(file: string): Promise<void> {
  const fh = await open(file, 'r');
  await fh.sync().finally(() => fh.close());
}

interface TusUpload {
  file: string;
  length: number;
  offset: number;
  verifier: Xre1Verifier;
  busy: boolean;
}

/** The tus limit's uploads, by id. */
const tusUploads = new Map<string, TusUpload>();
let tusIds = 0;

const answerTus = async (req: IncomingMessage, res: ServerResponse, id: string | undefined): Promise<void> => {
  const tusHeaders = { 'tus-resumable': '1.0.0' };
  if (req.method === 'POST' && id === undefined) {
    const key = Buffer.from(String(req.headers['x-xre1-key'] ?? ''), 'base64');
    const length = Number(req.headers['upload-length']);
    if (key.length !== 32 || !Number.isSafeInteger(length) || length <= 0)
      return void res.writeHead(400, tusHeaders).end('X-Xre1-Key (32 bytes, base64) and Upload-Length are required');
    const name = `tus-${process.pid}-${++tusIds}`;
    const file = path.join(dir, name);
    await writeFile(file, '');
    tusUploads.set(name, { file, length, offset: 0, verifier: new Xre1Verifier(key, length), busy: false });
    return void res.writeHead(201, { ...tusHeaders, location: `/tus/${name}` }).end();
  }
  const upload = id === undefined ? undefined : tusUploads.get(id);
  if (!upload || req.method !== 'PATCH') return void res.writeHead(upload ? 405 : 404, tusHeaders).end();
  if (upload.busy || Number(req.headers['upload-offset']) !== upload.offset)
    return void res.writeHead(409, tusHeaders).end('Upload-Offset does not match');
  upload.busy = true;
  // The upload's verification goes on across PATCHes: each body's bytes feed it as they pass.
  let taken = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      taken += chunk.length;
      if (upload.offset + taken > upload.length) return done(new Error('the body runs past Upload-Length'));
      try {
        upload.verifier.feed(chunk);
        done(null, chunk);
      } catch (err) {
        done(err as Error);
      }
    },
  });
  const out = new BatchedFileWriter(upload.file, { flags: 'r+', position: upload.offset });
  try {
    await pipeline(req, tap, out);
  } finally {
    upload.offset += out.bytesWritten;
    upload.busy = false;
  }
  if (upload.offset < upload.length)
    return void res.writeHead(204, { ...tusHeaders, 'upload-offset': String(upload.offset) }).end();
  if (!upload.verifier.complete) throw new Error('the XRE1 object ends early');
  await fsync(upload.file);
  tusUploads.delete(id!);
  res
    .writeHead(204, {
      ...tusHeaders,
      'upload-offset': String(upload.offset),
      'x-plaintext-sha256': upload.verifier.sha256,
      'access-control-expose-headers': 'x-plaintext-sha256',
    })
    .end();
};

/** The JSON bodies of PUT /json/<name>. */
const bodies = new Map<string, Buffer>();

const server = createServer((req, res) => {
  const json = /^\/json\/([A-Za-z0-9._-]+)$/.exec(req.url ?? '')?.[1];
  if (json !== undefined) return void answerJson(json, req, res);
  const tus = /^\/tus(?:\/([A-Za-z0-9._-]+))?$/.exec(req.url ?? '');
  if (tus)
    return void answerTus(req, res, tus[1]).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'tus-resumable': '1.0.0' }).end(String(err));
      else res.destroy();
    });
  const route = routeOf(req.url);
  if (!route) return void res.writeHead(404).end();
  const { file } = route;
  (async () => {
    if (req.method === 'PUT' && route.verified) {
      const key = Buffer.from(String(req.headers['x-xre1-key'] ?? ''), 'base64');
      const length = Number(req.headers['content-length']);
      if (key.length !== 32 || !Number.isSafeInteger(length))
        return void res.writeHead(400).end('X-Xre1-Key (32 bytes, base64) and Content-Length are required');
      const verifier = new Xre1Verifier(key, length);
      const out = new BatchedFileWriter(file);
      await pipeline(req, verifier, out);
      await fsync(file);
      res
        .writeHead(201, { 'content-type': 'application/json' })
        .end(JSON.stringify({ size: out.bytesWritten, sha256: verifier.sha256 }));
      return;
    }
    if (req.method === 'PUT') {
      const out = new BatchedFileWriter(file);
      await pipeline(req, out);
      await fsync(file);
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ size: out.bytesWritten }));
      return;
    }
    if (req.method === 'GET') {
      const { size } = await stat(file);
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      const start = m ? Number(m[1]) : 0;
      const end = m ? Math.min(Number(m[2]), size - 1) : size - 1;
      res.writeHead(m ? 206 : 200, {
        'content-type': 'application/octet-stream',
        'content-length': String(end - start + 1),
        ...(m ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
      });
      await pipeline(createReadStream(file, { start, end }), res);
      return;
    }
    res.writeHead(405).end();
  })().catch((err: unknown) => {
    if (!res.headersSent) res.writeHead(500).end(String(err));
    else res.destroy();
  });
});

function answerJson(name: string, req: IncomingMessage, res: ServerResponse): void {
  if (req.method === 'PUT') {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.set(name, Buffer.concat(chunks));
      res.writeHead(204).end();
    });
    return;
  }
  const body = bodies.get(name);
  if (req.method !== 'GET' || !body) return void res.writeHead(body ? 405 : 404).end();
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length }).end(body);
}

server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  console.log(`listening ${typeof addr === 'object' && addr ? addr.port : '?'}`);
});
process.once('SIGTERM', () => process.exit(0));
