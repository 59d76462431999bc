import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFile, rm, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { makeJpeg, plaintextRunFinder, sha256Hex, writeDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  blobOf,
  createTestDatabase,
  createTestStorage,
  postXray,
  s3Client,
  startTestServer,
  validMetadata,
  type StorageKind,
  type TestServer,
  type TestStorage,
} from './harness.ts';
import { runAdmin } from './server-process.ts';
import { sealed, startTus } from './tus-client.ts';

const SEG = 1024 * 1024;

async function readObject(server: TestServer, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await server.store.get(key)) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** Overwrites a stored object, as an attacker with bucket access (or bit rot) would. */
async function writeObject(server: TestServer, key: string, bytes: Buffer): Promise<void> {
  if (server.config.storage.kind === 'fs') await writeFile(path.join(server.config.storage.dir, key), bytes);
  else await s3Client(server.env).send(new PutObjectCommand({ Bucket: server.env.S3_BUCKET, Key: key, Body: bytes }));
}

async function fetchBytes(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  return { res, body: Buffer.from(await res.arrayBuffer()) };
}

describe.each<StorageKind>(['fs', 's3'])('encryption at rest on %s storage', (kind) => {
  let server: TestServer;
  let dir: string;
  let dicom: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xray-enc-'));
    dicom = await readFile((await writeDicom(path.join(dir, 'chest.dcm'), { seed: 51 })).path);
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('after uploads through both doors no stored object holds any 64-byte run of the original', async () => {
    const jpeg = makeJpeg({ seed: 52 });
    const rest = await postXray(server.url, validMetadata(), new Blob([new Uint8Array(dicom)]));
    expect(rest.status).toBe(201);
    const { body, metadata } = await sealed(server.url, jpeg, { patientId: 'P-5', bodyPart: 'HAND', view: 'PA' });
    const { id } = metadata;
    const tus = startTus({ endpoint: `${server.url}/uploads`, file: body, metadata });
    expect((await tus.done).xrayId).toBe(id);

    const keys = await server.store.list('');
    // Two X-ray objects, each with its sealed recovery record beside it.
    expect(keys.filter((k) => !k.endsWith('.record')).length).toBe(2);
    expect(keys.filter((k) => k.endsWith('.record')).length).toBe(2);
    // Each original indexed once for every stored object (18 MB of DICOM takes a second).
    const [inDicom, inJpeg] = [plaintextRunFinder(dicom), plaintextRunFinder(jpeg)];
    for (const key of keys) {
      const stored = await readObject(server, key);
      if (!key.endsWith('.record')) expect(stored.subarray(0, 4).toString('latin1')).toBe('XRE1');
      expect(inDicom(stored)).toBe(-1);
      expect(inJpeg(stored)).toBe(-1);
    }
    // …and the doctor still gets the original bytes back.
    const x = await rest.json();
    expect(sha256Hex((await fetchBytes(`${server.url}/xrays/${x.id}/download`)).body)).toBe(sha256Hex(dicom));
    expect(sha256Hex((await fetchBytes(`${server.url}/xrays/${id}/download`)).body)).toBe(sha256Hex(jpeg));
  });

  it('Range downloads across segment boundaries are byte-exact', async () => {
    const x = await (await postXray(server.url, validMetadata(), blobOf(dicom))).json();
    const url = `${server.url}/xrays/${x.id}/download`;
    const n = dicom.length;
    const cases: [string, number, number][] = [
      ['bytes=0-0', 0, 0],
      [`bytes=${n - 1}-${n - 1}`, n - 1, n - 1],
      [`bytes=${SEG - 10}-${SEG + 9}`, SEG - 10, SEG + 9],
      [`bytes=${SEG}-${2 * SEG - 1}`, SEG, 2 * SEG - 1],
      [`bytes=${SEG - 1}-${3 * SEG + 1}`, SEG - 1, 3 * SEG + 1],
      ['bytes=-100', n - 100, n - 1],
      [`bytes=${n - SEG - 5}-`, n - SEG - 5, n - 1],
    ];
    for (const [range, start, end] of cases) {
      const { res, body } = await fetchBytes(url, { Range: range });
      expect(res.status, range).toBe(206);
      expect(res.headers.get('content-range'), range).toBe(`bytes ${start}-${end}/${n}`);
      expect(body.equals(dicom.subarray(start, end + 1)), range).toBe(true);
    }
  });

  it('a tampered stored object stops the download before the bad segment is served', async () => {
    const x = await (await postXray(server.url, validMetadata(), blobOf(dicom))).json();
    const [key] = await server.store.list(`xrays/${x.id}/`);
    const stored = await readObject(server, key!);
    // Flip one byte inside segment 3 (0-based 2): plaintext bytes [2 MiB, 3 MiB).
    const headerLength = 8 + stored.readUInt32BE(4);
    const bad = Buffer.from(stored);
    bad[headerLength + 2 * (SEG + 16) + 100]! ^= 0x80;
    await writeObject(server, key!, bad);

    // Whatever was sent before the bad segment, the client sees a failed download, never bad bytes.
    const readAll = async (headers: Record<string, string> = {}) => {
      let received = 0;
      try {
        const res = await fetch(`${server.url}/xrays/${x.id}/download`, { headers });
        const reader = res.body!.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return { failed: false, received };
          received += value.length;
        }
      } catch {
        return { failed: true, received };
      }
    };
    const whole = await readAll();
    expect(whole.failed).toBe(true);
    expect(whole.received).toBeLessThanOrEqual(2 * SEG);
    const inside = await readAll({ Range: `bytes=${2 * SEG + 10}-${2 * SEG + 20}` });
    expect(inside).toEqual({ failed: true, received: 0 });
    // A range before the damage still reads.
    const { res, body } = await fetchBytes(`${server.url}/xrays/${x.id}/download`, { Range: 'bytes=0-99' });
    expect(res.status).toBe(206);
    expect(body.equals(dicom.subarray(0, 100))).toBe(true);
  });
});

/** A production-like key configuration: explicit KEKs and a generated upload key pair. */
function keyEnv(keks: Record<string, string>, current?: string) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
  return {
    KEK: Object.entries(keks)
      .map(([id, k]) => `${id}:${k}`)
      .join(','),
    ...(current ? { KEK_CURRENT_ID: current } : {}),
    UPLOAD_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

describe('rotate-kek', () => {
  let storage: TestStorage;
  afterAll(async () => storage?.cleanup());

  it('re-wraps every data key under the new KEK, resumes after being killed, and the old KEK can go', async () => {
    storage = await createTestStorage('fs');
    const k1 = randomBytes(32).toString('base64');
    const k2 = randomBytes(32).toString('base64');
    const keys = keyEnv({ k1 });
    const env = { DATABASE_URL: await createTestDatabase(), ...storage.env };
    const before = await startTestServer('fs', { ...env, ...keys });
    const originals: { id: string; bytes: Buffer }[] = [];
    for (let i = 0; i < 4; i++) {
      const bytes = makeJpeg({ seed: 60 + i });
      const res = await postXray(before.url, validMetadata(), blobOf(bytes));
      originals.push({ id: (await res.json()).id, bytes });
    }
    await before.stop();

    const both = { ...env, ...keys, KEK: `k1:${k1},k2:${k2}`, KEK_CURRENT_ID: 'k1' };
    // Killed after its first batch of one (no replica has seen k2: its check value is recorded here)…
    const first = await runAdmin(
      ['rotate-kek', '--to', 'k2', '--batch-size', '1', '--record-new-kek'],
      both,
      (line, kill) => {
        if (line.startsWith('re-wrapped 1')) kill();
      },
    );
    expect(first.code).toBeNull(); // killed by the signal
    // …and run again: it carries on with what is left.
    const second = await runAdmin(['rotate-kek', '--to', 'k2'], both);
    expect(second.code, `${second.stdout}${second.stderr}`).toBe(0);
    expect(second.stdout).toMatch(/0 remaining/);

    // The old KEK removed from configuration: everything still downloads byte-exact.
    const after = await startTestServer('fs', { ...env, ...keys, KEK: `k2:${k2}` });
    try {
      const { rows } = await after.pool.query<{ kek_id: string; n: number }>(
        'SELECT kek_id, count(*)::int AS n FROM xrays GROUP BY kek_id',
      );
      expect(rows).toEqual([{ kek_id: 'k2', n: 4 }]);
      for (const o of originals) {
        expect(sha256Hex((await fetchBytes(`${after.url}/xrays/${o.id}/download`)).body)).toBe(sha256Hex(o.bytes));
      }
      const audit = await after.pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM audit_events WHERE action = 'xray.rekey'",
      );
      expect(audit.rows[0]?.n).toBe(4);
    } finally {
      await after.stop();
    }
  });
});
