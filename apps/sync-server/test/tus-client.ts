import { encryptBytes, generateDek, wrapKeyRsaOaep } from '@xray/shared';
import * as tus from 'tus-js-client';

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

/** Reads one counter from the server's Prometheus metrics. */
export async function metricValue(baseUrl: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
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
): Promise<{ body: Buffer; dek: string; kid: string }> {
  const jwks = (await (await fetch(`${baseUrl}/keys/upload`)).json()) as { keys: (JsonWebKey & { kid: string })[] };
  const jwk = jwks.keys[0]!;
  const publicKey = await crypto.subtle.importKey('jwk', jwk, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, [
    'wrapKey',
  ]);
  const dek = await generateDek();
  const body = Buffer.from(await encryptBytes(dek, plaintext));
  const wrapped = await wrapKeyRsaOaep(dek, publicKey);
  return { body, dek: Buffer.from(wrapped).toString('base64'), kid: jwk.kid };
}
