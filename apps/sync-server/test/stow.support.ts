import { randomUUID } from 'node:crypto';
import type { Xray } from '@xray/shared';
import type pg from 'pg';
import { expect } from 'vitest';

/** One part of a STOW-RS body: DICOM bytes, as `application/dicom` unless said otherwise. */
export interface RelatedPart {
  bytes: Uint8Array;
  /** The part's Content-Type; `null` sends none. */
  type?: string | null;
}

/**
 * A `multipart/related; type="application/dicom"` body as DICOMweb clients send it, as chunks (a
 * part's bytes are not copied), with its Content-Type.
 */
export function multipartRelated(
  parts: readonly RelatedPart[],
  opts: { boundary?: string; closing?: boolean } = {},
): { chunks: Uint8Array[]; contentType: string; length: number } {
  const boundary = opts.boundary ?? `stow-${randomUUID()}`;
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  for (const p of parts) {
    const type = p.type === undefined ? 'application/dicom' : p.type;
    chunks.push(enc.encode(`--${boundary}\r\n${type === null ? '' : `Content-Type: ${type}\r\n`}\r\n`));
    chunks.push(p.bytes);
    chunks.push(enc.encode('\r\n'));
  }
  if (opts.closing !== false) chunks.push(enc.encode(`--${boundary}--\r\n`));
  return {
    chunks,
    contentType: `multipart/related; type="application/dicom"; boundary=${boundary}`,
    length: chunks.reduce((n, c) => n + c.length, 0),
  };
}

/**
 * POST a STOW-RS body. `chunked`: as a stream (Transfer-Encoding: chunked, in pieces of at most
 * 64 KiB, as Orthanc and streaming clients send it); otherwise one buffer with a Content-Length.
 */
export async function postStow(
  url: string,
  parts: readonly RelatedPart[],
  opts: { headers?: Record<string, string>; chunked?: boolean; contentType?: string; closing?: boolean } = {},
): Promise<Response> {
  const body = multipartRelated(parts, { closing: opts.closing });
  const headers = { 'content-type': opts.contentType ?? body.contentType, ...opts.headers };
  if (!opts.chunked) {
    return fetch(url, { method: 'POST', headers, body: Buffer.concat(body.chunks) });
  }
  const pieces = (function* () {
    for (const c of body.chunks)
      for (let at = 0; at < c.length; at += 64 * 1024) yield c.subarray(at, Math.min(c.length, at + 64 * 1024));
  })();
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = pieces.next();
      if (next.done) controller.close();
      else controller.enqueue(new Uint8Array(next.value));
    },
  });
  return fetch(url, { method: 'POST', headers, body: stream, duplex: 'half' } as RequestInit);
}

/**
 * POST a STOW-RS body to /dicom-web/studies (or the study's URL) as `actor` (headerActor servers),
 * accepting application/dicom+json; `opts.headers` go on top.
 */
export function stowAs(
  baseUrl: string,
  actor: string,
  parts: readonly RelatedPart[],
  opts: Parameters<typeof postStow>[2] = {},
  study?: string,
): Promise<Response> {
  return postStow(`${baseUrl}/dicom-web/studies${study ? `/${study}` : ''}`, parts, {
    ...opts,
    headers: { 'X-Test-Actor': actor, Accept: 'application/dicom+json', ...opts.headers },
  });
}

/** A row of `xrays` as the STOW-RS tests look at it. */
export interface SopRow {
  id: string;
  patient_id: string;
  identity: Xray['identity'];
  captured_by_sub: string;
  object_key: string;
}

/** The rows of `xrays` stored for a SOP Instance UID. */
export async function rowsOfSop(pool: Pick<pg.Pool, 'query'>, sopInstanceUid: string | undefined): Promise<SopRow[]> {
  const { rows } = await pool.query<SopRow>(
    `SELECT id, patient_id, identity, captured_by_sub, object_key FROM xrays WHERE dicom->>'sopInstanceUid' = $1`,
    [sopInstanceUid],
  );
  return rows;
}

/** One instance stored through STOW-RS as `actor` (expecting 200); the rows it is stored as. */
export async function stowOne(
  server: { url: string; pool: Pick<pg.Pool, 'query'> },
  actor: string,
  bytes: Uint8Array,
): Promise<SopRow[]> {
  const res = await stowAs(server.url, actor, [{ bytes }]);
  expect(res.status, await res.clone().text()).toBe(200);
  const [stored] = readStowAnswer((await res.json()) as DicomJson).stored;
  return rowsOfSop(server.pool, stored?.sopInstanceUid);
}

type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;

/** A STOW-RS response module read back: stored and failed instances, by SOP Instance UID. */
export function readStowAnswer(body: DicomJson): {
  retrieveUrl: string | undefined;
  stored: { sopClassUid: string; sopInstanceUid: string; retrieveUrl: string }[];
  failed: { sopClassUid: string | undefined; sopInstanceUid: string | undefined; reason: number }[];
} {
  const str = (d: DicomJson, tag: string) => d[tag]?.Value?.[0] as string | undefined;
  const items = (tag: string) => (body[tag]?.Value ?? []) as DicomJson[];
  return {
    retrieveUrl: str(body, '00081190'),
    stored: items('00081199').map((d) => ({
      sopClassUid: str(d, '00081150')!,
      sopInstanceUid: str(d, '00081155')!,
      retrieveUrl: str(d, '00081190')!,
    })),
    failed: items('00081198').map((d) => ({
      sopClassUid: str(d, '00081150'),
      sopInstanceUid: str(d, '00081155'),
      reason: d['00081197']?.Value?.[0] as number,
    })),
  };
}
