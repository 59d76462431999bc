import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDomainError } from '../errors.ts';
import { readXrayMultipart } from './multipart.ts';

async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return hash.digest('hex');
}

/** What the parser made of a request: the metadata and the file's sha256, or the refusal. */
type Outcome = { metadata: unknown; sha256: string } | { code: string; message: string; field?: string };

describe('readXrayMultipart: the body POST /xrays takes', () => {
  let server: Server;
  let url: string;
  const image = new Uint8Array(200_000).map((_, i) => (i * 7) % 251);
  const imageSha = createHash('sha256').update(image).digest('hex');
  const metadata = { patientId: 'P-1001', capturedAt: '2026-11-27T08:15:00Z', bodyPart: 'CHEST', view: 'PA' };

  beforeAll(async () => {
    server = createServer((req, res) => {
      const answer = (status: number, body: Outcome) => res.writeHead(status).end(JSON.stringify(body));
      readXrayMultipart(req, 1024 * 1024)
        .then(async (part) => answer(200, { metadata: part.metadata, sha256: await sha256Of(part.file) }))
        .catch((err: unknown) => {
          req.resume();
          if (!isDomainError(err)) return answer(500, { code: 'internal', message: String(err) });
          answer(400, {
            code: err.code,
            message: err.message,
            ...(err.fields?.[0] ? { field: err.fields[0].field } : {}),
          });
        });
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const post = async (form: FormData): Promise<{ status: number; body: Outcome }> => {
    const res = await fetch(url, { method: 'POST', body: form });
    return { status: res.status, body: (await res.json()) as Outcome };
  };
  const jsonPart = (value: string, type = 'application/json') => new Blob([value], { type });
  const formOf = (...parts: [string, string | Blob, string?][]) => {
    const form = new FormData();
    for (const [name, value, filename] of parts)
      if (typeof value === 'string') form.append(name, value);
      else form.append(name, value, filename);
    return form;
  };
  const file: [string, Blob, string] = ['file', new Blob([image]), 'image.png'];

  it('takes metadata as a plain form field', async () => {
    expect(await post(formOf(['metadata', JSON.stringify(metadata)], file))).toEqual({
      status: 200,
      body: { metadata, sha256: imageSha },
    });
  });

  it('takes metadata as a part of type application/json (a JSON Blob, as a generated client sends it)', async () => {
    for (const type of ['application/json', 'application/json; charset=utf-8', 'application/merge-patch+json']) {
      expect(await post(formOf(['metadata', jsonPart(JSON.stringify(metadata), type), 'blob'], file)), type).toEqual({
        status: 200,
        body: { metadata, sha256: imageSha },
      });
    }
  });

  it('refuses a metadata part of another type, too long or not JSON, naming the field', async () => {
    const refusals = [
      [jsonPart(JSON.stringify(metadata), 'application/octet-stream'), /form field or of type application\/json/],
      [jsonPart(JSON.stringify({ ...metadata, notes: 'x'.repeat(70_000) })), /at most 65536 bytes/],
      [jsonPart('{patientId:'), /not valid JSON/],
    ] as const;
    for (const [part, message] of refusals) {
      const { status, body } = await post(formOf(['metadata', part, 'blob'], file));
      expect(status).toBe(400);
      expect(body).toMatchObject({ code: 'validation_failed', field: 'metadata' });
      expect('message' in body && body.message).toMatch(message);
    }
  });

  it('refuses two metadata parts, a file before the metadata, a missing file and a second file', async () => {
    const json = JSON.stringify(metadata);
    const cases = [
      [formOf(['metadata', json], ['metadata', jsonPart(json), 'blob'], file), /Only one metadata part/, 'metadata'],
      [formOf(['metadata', jsonPart(json), 'blob'], ['metadata', json], file), /Only one metadata part/, 'metadata'],
      [formOf(file, ['metadata', jsonPart(json), 'blob']), /must come before the file/, 'metadata'],
      [formOf(['metadata', jsonPart(json), 'blob']), /file part is missing/, 'file'],
    ] as const;
    for (const [form, message, field] of cases) {
      const { status, body } = await post(form);
      expect(status).toBe(400);
      expect(body).toMatchObject({ code: 'validation_failed', field });
      expect('message' in body && body.message).toMatch(message);
    }
    // A second image after the first: the first one's stream fails, so nothing is taken from it.
    const twice = await post(formOf(['metadata', json], file, ['file', new Blob([image]), 'again.png']));
    expect(twice).toMatchObject({ status: 400, body: { code: 'validation_failed', field: 'file' } });
  });
});
