import { describe, expect, it } from 'vitest';
import { parseProblem } from './upload.failure.ts';
import { getFromServer } from './server.get.ts';
import { UploadError } from './uploader.ts';

const problem = {
  type: 'https://xray-service.dev/problems/validation-failed',
  title: 'Invalid request',
  status: 400,
  code: 'validation_failed',
  detail: 'Upload-Metadata has invalid X-ray fields.',
  errors: [{ field: 'metadata.bodyPart', message: 'must be a DICOM body part code' }],
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

describe('getFromServer', () => {
  const say = { path: '/things/1', unreachable: 'the thing could not be fetched', accept: [404] };
  const answering = (status: number, body = '') =>
    (() => Promise.resolve(new Response(body, { status }))) as typeof fetch;
  const failureOf = (p: Promise<unknown>) =>
    p.then(
      () => expect.fail('resolved'),
      (err: unknown) => (err instanceof UploadError ? err.failure : expect.fail(String(err))),
    );

  it('returns OK answers and the statuses the caller accepts', async () => {
    expect((await getFromServer(answering(200, '{}'), 'http://s/things/1', {}, say)).status).toBe(200);
    expect((await getFromServer(answering(404), 'http://s/things/1', {}, say)).status).toBe(404);
  });

  it('fails as network when no answer comes, as http with the problem otherwise', async () => {
    const offline = (() => Promise.reject(new TypeError('Failed to fetch'))) as typeof fetch;
    expect(await failureOf(getFromServer(offline, 'http://s/things/1', {}, say))).toEqual({
      kind: 'network',
      message: 'the thing could not be fetched',
    });
    expect(await failureOf(getFromServer(answering(400, JSON.stringify(problem)), 'http://s', {}, say))).toEqual({
      kind: 'http',
      method: 'GET',
      status: 400,
      problem: parseProblem(JSON.stringify(problem)),
      message: 'Upload-Metadata has invalid X-ray fields. (metadata.bodyPart must be a DICOM body part code)',
    });
    expect(await failureOf(getFromServer(answering(502, 'Bad Gateway'), 'http://s', {}, say))).toEqual({
      kind: 'http',
      method: 'GET',
      status: 502,
      message: 'GET /things/1 answered 502',
    });
  });
});
