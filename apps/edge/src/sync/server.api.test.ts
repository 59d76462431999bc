import { describe, expect, it } from 'vitest';
import { parseProblem } from './upload.failure.ts';
import { createServerApi, SignedOutError } from './server.api.ts';
import { UploadError } from './uploader.ts';

const problem = {
  type: 'https://xray-service.dev/problems/validation-failed',
  title: 'Invalid request',
  status: 400,
  code: 'validation_failed',
  detail: 'Upload-Metadata has invalid X-ray fields.',
  errors: [{ field: 'metadata.bodyPart', message: 'must be a DICOM body part code' }],
};

const ID = '6f1c2a9e-3b4d-4e5f-8a6b-7c8d9e0f1a2b';
const xray = {
  id: ID,
  patientId: 'P-1001',
  consultationId: null,
  capturedAt: '2026-11-27T08:15:00.000Z',
  capturedBy: { sub: 'p', name: null },
  deviceId: null,
  bodyPart: 'CHEST',
  view: 'PA',
  priority: 'urgent',
  notes: null,
  contentType: 'image/png',
  sizeBytes: 10,
  sha256: 'a'.repeat(64),
  dicom: null,
  link: { status: 'verified' },
  identity: { status: 'unknown', fields: [], compared: [], reason: 'not_dicom', overridden: false },
  dicomUidConflict: false,
  uploadedAt: '2026-11-27T08:16:00.000Z',
  changeSeq: 1,
};

describe('parseProblem', () => {
  it('reads an RFC 9457 problem with its field errors', () => {
    expect(parseProblem(JSON.stringify(problem))).toEqual({
      code: 'validation_failed',
      title: 'Invalid request',
      detail: 'Upload-Metadata has invalid X-ray fields.',
      errors: problem.errors,
    });
    expect(parseProblem(JSON.stringify({ ...problem, errors: [] }))?.errors).toBeUndefined();
  });

  it('is undefined for what is not a problem', () => {
    for (const body of [undefined, '', 'Bad Gateway', '"text"', 'null', '{"message":"nope"}']) {
      expect(parseProblem(body), String(body)).toBeUndefined();
    }
  });
});

describe('the server API (typed client)', () => {
  const seen: Request[] = [];
  /** A server that answers every request with `status` and `body` (JSON unless a string). */
  const answering = (status: number, body?: unknown, headers: Record<string, string> = {}) =>
    createServerApi({
      baseUrl: 'https://s.example/',
      fetch: async (input) => {
        if (input instanceof Request) seen.push(input);
        const json = body !== undefined && typeof body !== 'string';
        return new Response(json ? JSON.stringify(body) : (body ?? null), {
          status,
          headers: {
            ...(json ? { 'Content-Type': status < 400 ? 'application/json' : 'application/problem+json' } : {}),
            ...headers,
          },
        });
      },
    });
  const signedIn = async (method: string, url: string) => ({ Authorization: `DPoP t`, DPoP: `${method} ${url}` });
  const failureOf = (p: Promise<unknown>) =>
    p.then(
      () => expect.fail('resolved'),
      (err: unknown) => (err instanceof UploadError ? err.failure : expect.fail(String(err))),
    );

  it('answers the X-ray, with headers made for the final method and URL (a DPoP proof names both)', async () => {
    seen.length = 0;
    const x = await answering(200, xray).correctXray(ID, { patientId: 'P-2002' }, signedIn);
    expect(x).toMatchObject({ id: ID, sha256: 'a'.repeat(64) });
    const [req] = seen;
    expect(req?.method).toBe('PATCH');
    expect(req?.url).toBe(`https://s.example/xrays/${ID}`);
    expect(req?.headers.get('dpop')).toBe(`PATCH https://s.example/xrays/${ID}`);
    expect(req?.headers.get('content-type')).toBe('application/merge-patch+json');
    expect(await req?.json()).toEqual({ patientId: 'P-2002' });
  });

  it('reads 404 as "the server has none"; sends nothing for no one signed in', async () => {
    expect(await answering(404, { ...problem, status: 404, code: 'not_found' }).xray(ID, signedIn)).toBeUndefined();
    seen.length = 0;
    await expect(answering(200, xray).xray(ID, async () => null)).rejects.toBeInstanceOf(SignedOutError);
    expect(seen).toEqual([]);
  });

  it('fails as network when no answer comes, as http with the problem (and Retry-After) otherwise', async () => {
    const offline = createServerApi({
      baseUrl: 'https://s.example',
      fetch: () => Promise.reject(new TypeError('Failed to fetch')),
    });
    expect(await failureOf(offline.uploadKeys())).toEqual({
      kind: 'network',
      message: 'the server key could not be fetched',
    });
    expect(await failureOf(answering(400, problem).xray(ID, signedIn))).toEqual({
      kind: 'http',
      method: 'GET',
      status: 400,
      problem: parseProblem(JSON.stringify(problem)),
      message: 'Upload-Metadata has invalid X-ray fields. (metadata.bodyPart must be a DICOM body part code)',
    });
    expect(await failureOf(answering(503, 'Service Unavailable', { 'Retry-After': '7' }).roster(signedIn))).toEqual({
      kind: 'http',
      method: 'GET',
      status: 503,
      retryAfterMs: 7000,
      message: 'GET /roster answered 503',
    });
  });

  it('refuses a 2xx body that is not what the document says', async () => {
    expect(await failureOf(answering(200, { id: ID }).xray(ID, signedIn))).toMatchObject({
      kind: 'http',
      status: 502,
      message: `GET /xrays/${ID} answered a body that is not what the API document says`,
    });
  });
});
