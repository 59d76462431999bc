import { randomUUID } from 'node:crypto';
import { encryptBytes, generateDek, wrapKeyRsaOaep, type EncryptOptions } from '@xray/shared';
import { sha256Hex } from '@xray/testkit';
import * as tus from 'tus-js-client';
import { expect } from 'vitest';

export const MiB = 1024 * 1024;

export interface TusRun {
  upload: tus.Upload;
  done: Promise<{ url: string; xrayId: string | null }>;
}

/** Drives an upload the way the edge app does: tus-js-client, fixed chunks, metadata in Upload-Metadata. */
export function startTus(opts: {
  endpoint: string;
  file: Buffer;
  metadata: Record<string, string>;
  chunkSize?: number;
  uploadUrl?: string;
  headers?: Record<string, string>;
  retryDelays?: number[] | null;
  onChunkComplete?: (sent: number, accepted: number, total: number) => void;
  onProgress?: (sent: number, total: number) => void;
}): TusRun {
  let resolveDone!: (v: { url: string; xrayId: string | null }) => void;
  let rejectDone!: (e: Error) => void;
  const done = new Promise<{ url: string; xrayId: string | null }>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  let xrayId: string | null = null;
  const upload = new tus.Upload(opts.file, {
    endpoint: opts.endpoint,
    ...(opts.uploadUrl ? { uploadUrl: opts.uploadUrl } : {}),
    chunkSize: opts.chunkSize ?? 5 * MiB,
    metadata: opts.metadata,
    headers: opts.headers ?? {},
    retryDelays: opts.retryDelays === undefined ? [0, 200, 500, 1000] : opts.retryDelays,
    storeFingerprintForResuming: false,
    onAfterResponse: (_req, res) => {
      xrayId = res.getHeader('X-Xray-Id') ?? xrayId;
    },
    onChunkComplete: opts.onChunkComplete,
    onProgress: opts.onProgress,
    onSuccess: () => resolveDone({ url: upload.url ?? '', xrayId }),
    onError: (err) => rejectDone(err),
  });
  upload.start();
  return { upload, done };
}

/** Reads one counter from the server's Prometheus metrics (its own listener, not the API port). */
export async function metricValue(
  server: { metricsUrl: string | undefined },
  name: string,
  labels = '',
): Promise<number> {
  if (!server.metricsUrl) throw new Error('this server serves no metrics (METRICS_PORT=off)');
  const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/**
 * What the edge does before it uploads: encrypt the file to XRE1 with a fresh data key and wrap
 * that key for the server's upload key (GET /keys/upload). Returns the body and its metadata.
 */
export async function sealForUpload(
  baseUrl: string,
  plaintext: Uint8Array,
  opts: EncryptOptions = {},
): Promise<{ body: Buffer; dek: string; kid: string }> {
  const jwks = (await (await fetch(`${baseUrl}/keys/upload`)).json()) as { keys: (JsonWebKey & { kid: string })[] };
  const jwk = jwks.keys[0]!;
  const publicKey = await crypto.subtle.importKey('jwk', jwk, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, [
    'wrapKey',
  ]);
  const dek = await generateDek();
  const body = Buffer.from(await encryptBytes(dek, plaintext, opts));
  const wrapped = await wrapKeyRsaOaep(dek, publicKey);
  return { body, dek: Buffer.from(wrapped).toString('base64'), kid: jwk.kid };
}

/** Upload-Metadata for `file` as the edge sends it, before the data key: a fresh id and the plaintext hash. */
export const tusMetadata = (file: Buffer, over: Record<string, string> = {}) => ({
  id: randomUUID(),
  sha256: sha256Hex(file),
  patientId: 'P-2002',
  capturedAt: '2026-11-27T09:00:00Z',
  bodyPart: 'CHEST',
  view: 'AP',
  priority: 'urgent',
  ...over,
});

/** The edge's upload: XRE1 ciphertext, metadata with the plaintext hash and the wrapped data key. */
export async function sealed(
  baseUrl: string,
  plain: Buffer,
  over: Record<string, string> = {},
  opts: EncryptOptions = {},
) {
  const { body, dek, kid } = await sealForUpload(baseUrl, plain, opts);
  return { body, metadata: { ...tusMetadata(plain), dek, kid, ...over } };
}

/** Downloads X-ray `id` (expecting 200) and returns the sha256 of the bytes served. */
export async function downloadSha(baseUrl: string, id: string): Promise<string> {
  const res = await fetch(`${baseUrl}/xrays/${id}/download`);
  expect(res.status).toBe(200);
  return sha256Hex(Buffer.from(await res.arrayBuffer()));
}

/** Upload-Metadata as tus sends it: `key base64(value)`, comma-separated. */
export const encodeMeta = (m: Record<string, string>) =>
  Object.entries(m)
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',');

/** Creates a tus upload (expecting 201) and returns its URL; `headers` adds to the request's (an actor). */
export async function tusCreate(
  baseUrl: string,
  body: Buffer,
  metadata: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<string> {
  const created = await fetch(`${baseUrl}/uploads`, {
    method: 'POST',
    headers: {
      'Tus-Resumable': '1.0.0',
      'Upload-Length': String(body.length),
      'Upload-Metadata': encodeMeta(metadata),
      ...headers,
    },
  });
  expect(created.status).toBe(201);
  return created.headers.get('location') ?? '';
}

/** The same tus upload URL on another instance (`base`): any instance may take the next chunk. */
export const rebase = (uploadUrl: string, base: string) => `${base}${new URL(uploadUrl).pathname}`;
