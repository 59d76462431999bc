import { randomUUID } from 'node:crypto';
import { encryptBytes, generateDek, wrapKeyRsaOaep } from '@xray/shared';
import * as tus from 'tus-js-client';
import type { Authorize } from './dpop.ts';
import { agent, expectStatus, json, request } from './http.ts';
import { concat, sha256Of } from './workload.ts';

/**
 * How each contender is sent one file. `prepare` does what is not the server's work and is not
 * timed (building a variant; for tus, the edge's XRE1 encryption and key wrapping); `send` is
 * the timed part and resolves with the id the server gave the file.
 */
export interface Uploader<P> {
  prepare(parts: [Buffer, Buffer], label: string): Promise<P>;
  send(prepared: P): Promise<string>;
}

/** A patient the development Patient Service knows, so every upload's link check succeeds. */
export const PATIENT_ID = 'P-1001';
const capturedAt = '2026-11-27T08:15:00Z';

/** The bare Node server: one PUT of the file. */
export function rawUploader(baseUrl: string): Uploader<{ parts: Buffer[]; label: string }> {
  return {
    prepare: (parts, label) => Promise.resolve({ parts, label }),
    async send({ parts, label }) {
      expectStatus('raw PUT', await request(`${baseUrl}/files/${label}`, { method: 'PUT', body: parts }), 201);
      return label;
    },
  };
}

/**
 * The verified limit (raw-server.process.ts, PUT /verified): the same XRE1 ciphertext the edge
 * uploads (made in `prepare`, not timed, as for tus) with its data key in a header; the answer
 * must name the plaintext's sha256, which the server computes only when every segment verified.
 */
export function verifiedRawUploader(
  baseUrl: string,
): Uploader<{ ciphertext: Buffer; key: string; sha256: string; label: string }> {
  return {
    async prepare(parts, label) {
      const dek = await generateDek();
      const ciphertext = Buffer.from(await encryptBytes(dek, concat(parts)));
      const key = Buffer.from(await crypto.subtle.exportKey('raw', dek)).toString('base64');
      return { ciphertext, key, sha256: sha256Of(parts), label };
    },
    async send({ ciphertext, key, sha256, label }) {
      const res = await request(`${baseUrl}/verified/${label}`, {
        method: 'PUT',
        headers: { 'x-xre1-key': key },
        body: [ciphertext],
      });
      const got = json<{ sha256: string }>(expectStatus('verified raw PUT', res, 201)).sha256;
      if (got !== sha256) throw new Error(`verified raw PUT: sha256 ${got}, expected ${sha256}`);
      return label;
    },
  };
}

/**
 * The tus limit (raw-server.process.ts, POST /tus, PATCH /tus/<id>): the same XRE1 ciphertext sent
 * with tus-js-client in the same chunks as to the sync server, the data key in a header at
 * creation; the PATCH that completes it must name the plaintext's sha256.
 */
export function tusLimitUploader(
  baseUrl: string,
  chunkSize: number,
): Uploader<{ ciphertext: Buffer; key: string; sha256: string }> {
  const verified = verifiedRawUploader(baseUrl);
  return {
    prepare: (parts, label) => verified.prepare(parts, label),
    send({ ciphertext, key, sha256 }) {
      return new Promise((resolve, reject) => {
        let got: string | undefined;
        const upload = new tus.Upload(ciphertext, {
          endpoint: `${baseUrl}/tus`,
          chunkSize,
          headers: { 'x-xre1-key': key },
          httpStack: new tus.DefaultHttpStack({ agent }),
          retryDelays: [],
          storeFingerprintForResuming: false,
          onAfterResponse: (_req, res) => {
            got = res.getHeader('X-Plaintext-Sha256') ?? got;
          },
          onSuccess: () =>
            got === sha256
              ? resolve(upload.url ?? 'tus')
              : reject(new Error(`tus limit: sha256 ${got ?? '(none)'}, expected ${sha256}`)),
          onError: reject,
        });
        upload.start();
      });
    },
  };
}

/**
 * POST /xrays: multipart (metadata, then the file), streamed; the server encrypts on the way in.
 * `authorize` makes each request's headers (for a paramedic a fresh DPoP proof: part of the timed send).
 */
export function postUploader(baseUrl: string, authorize: Authorize): Uploader<{ body: Buffer[]; boundary: string }> {
  return {
    prepare(parts, label) {
      const boundary = `----xray-bench-${randomUUID()}`;
      const metadata = JSON.stringify({
        patientId: PATIENT_ID,
        capturedAt,
        bodyPart: 'CHEST',
        view: 'PA',
        priority: 'urgent',
      });
      const head = Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="metadata"\r\nContent-Type: application/json\r\n\r\n${metadata}\r\n` +
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${label}.dcm"\r\nContent-Type: application/dicom\r\n\r\n`,
      );
      const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
      return Promise.resolve({ body: [head, ...parts, tail], boundary });
    },
    async send({ body, boundary }) {
      const url = `${baseUrl}/xrays`;
      const res = await request(url, {
        method: 'POST',
        headers: { ...(await authorize('POST', url)), 'content-type': `multipart/form-data; boundary=${boundary}` },
        body,
      });
      return json<{ id: string }>(expectStatus('POST /xrays', res, 201)).id;
    },
  };
}

export interface UploadKey {
  key: CryptoKey;
  kid: string;
}

/** The server's upload public key (GET /keys/upload), as the edge fetches it. */
export async function fetchUploadKey(baseUrl: string): Promise<UploadKey> {
  const jwks = json<{ keys: (JsonWebKey & { kid: string })[] }>(await request(`${baseUrl}/keys/upload`));
  const jwk = jwks.keys[0];
  if (!jwk) throw new Error('GET /keys/upload: no key');
  const key = await crypto.subtle.importKey('jwk', jwk, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['wrapKey']);
  return { key, kid: jwk.kid };
}

interface SealedUpload {
  ciphertext: Buffer;
  metadata: Record<string, string>;
}

/**
 * tus as the edge app does it: tus-js-client, fixed chunks, XRE1 ciphertext made on the client
 * (in `prepare`, not timed) with the data key wrapped for the server's upload key; every request
 * (creation POST, each PATCH) with the headers `authorize` makes for it, as the edge's
 * onBeforeRequest does (apps/edge/src/sync/tus.uploader.ts): a fresh DPoP proof each.
 */
export function tusUploader(
  baseUrl: string,
  authorize: Authorize,
  uploadKey: UploadKey,
  chunkSize: number,
): Uploader<SealedUpload> {
  return {
    async prepare(parts, label) {
      const plaintext = concat(parts);
      const dek = await generateDek();
      const ciphertext = Buffer.from(await encryptBytes(dek, plaintext));
      const wrapped = await wrapKeyRsaOaep(dek, uploadKey.key);
      return {
        ciphertext,
        metadata: {
          id: randomUUID(),
          sha256: sha256Of(parts),
          patientId: PATIENT_ID,
          capturedAt,
          bodyPart: 'CHEST',
          view: 'PA',
          priority: 'urgent',
          filename: `${label}.dcm`,
          dek: Buffer.from(wrapped).toString('base64'),
          kid: uploadKey.kid,
        },
      };
    },
    send({ ciphertext, metadata }) {
      return new Promise((resolve, reject) => {
        let xrayId: string | undefined;
        const upload = new tus.Upload(ciphertext, {
          endpoint: `${baseUrl}/uploads`,
          chunkSize,
          metadata,
          onBeforeRequest: async (req) => {
            const headers = await authorize(req.getMethod(), req.getURL());
            for (const [name, value] of Object.entries(headers)) req.setHeader(name, value);
          },
          httpStack: new tus.DefaultHttpStack({ agent }),
          retryDelays: [],
          storeFingerprintForResuming: false,
          onAfterResponse: (_req, res) => {
            xrayId = res.getHeader('X-Xray-Id') ?? xrayId;
          },
          onSuccess: () => (xrayId ? resolve(xrayId) : reject(new Error('tus: finished without X-Xray-Id'))),
          onError: reject,
        });
        upload.start();
      });
    },
  };
}

/** Orthanc's REST door: POST /instances with the DICOM file. */
export function orthancUploader(baseUrl: string, authorization: string): Uploader<{ parts: Buffer[] }> {
  return {
    prepare: (parts) => Promise.resolve({ parts }),
    async send({ parts }) {
      const res = await request(`${baseUrl}/instances`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/dicom' },
        body: parts,
      });
      const out = json<{ ID: string; Status: string }>(expectStatus('Orthanc POST /instances', res, 200));
      if (out.Status !== 'Success') throw new Error(`Orthanc POST /instances: ${out.Status} (expected Success)`);
      return out.ID;
    },
  };
}
