import {
  EdgeServerConfigSchema,
  RosterSchema,
  XraySchema,
  type EdgeServerConfig,
  type Roster,
  type Xray,
} from '@xray/shared';
import { createApiClient, type ApiClient, type ApiSchema, type Middleware } from '@xray/shared/api';
import type { ZodType } from 'zod';
import type { AuthorizeRequest } from '../auth/server.authorizer.ts';
import { parseRetryAfter, problemMessage, readProblem } from './upload.failure.ts';
import { UploadError } from './uploader.ts';

/** Nobody is signed in (or the device is locked): the request was not sent. */
export class SignedOutError extends Error {
  override readonly name = 'SignedOutError';
}

export interface ServerApiOptions {
  /** The sync server's base URL. */
  baseUrl: string;
  /** The fetch requests go through (watchRevocation's, a test's stand-in); the global one by default. */
  fetch?: typeof fetch;
}

/** How a call names itself when it fails. */
interface Call {
  method: string;
  /** The path as messages show it: "/keys/upload". */
  path: string;
  /** What could not be done when no answer comes: "the server key could not be fetched". */
  unreachable: string;
}

/** What openapi-fetch answers: the 2xx body as `data`, an error status's body as `error`. */
interface Outcome<D> {
  data?: D;
  error?: unknown;
  response: Response;
}

/** fetch's own failures (no answer, aborted, timed out), as opposed to a bug on this side. */
const isNoAnswer = (err: unknown): boolean =>
  err instanceof TypeError ||
  (err instanceof DOMException && (err.name === 'AbortError' || err.name === 'TimeoutError'));

/** Authorization per request: DPoP proofs name the method and the URL, so they are made last. */
const authorizing = (authorize: AuthorizeRequest): Middleware => ({
  async onRequest({ request }) {
    const headers = await authorize(request.method, request.url);
    if (!headers) throw new SignedOutError('Sign in to reach the server.');
    for (const [name, value] of Object.entries(headers)) request.headers.set(name, value);
    return request;
  },
});

/**
 * The edge's REST calls to the sync server (everything but tus): the typed client generated from
 * the server's OpenAPI document (`@xray/shared/api`), so a path, parameter or body the document
 * does not have fails to compile. The one place that reads problem bodies and network failures:
 * a call returns its answer or throws an UploadError, `network` when no answer comes, `http` with
 * the server's problem for an error status (or a body that is not what the document says);
 * SignedOutError when there is no one to send it for.
 */
export function createServerApi(opts: ServerApiOptions) {
  const doFetch = opts.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const client: ApiClient = createApiClient({
    baseUrl: opts.baseUrl.replace(/\/+$/, ''),
    fetch: (request) => doFetch(request),
  });

  /** The answer of a 2xx (or an accepted status), or the UploadError that says why not. */
  async function settle<D>(
    call: Call,
    send: () => Promise<Outcome<D>>,
    accept: readonly number[] = [],
  ): Promise<{ data: D | undefined; status: number }> {
    let outcome: Outcome<D>;
    try {
      outcome = await send();
    } catch (cause) {
      if (!isNoAnswer(cause)) throw cause;
      throw new UploadError({ kind: 'network', message: call.unreachable }, { cause });
    }
    const { response } = outcome;
    if (response.ok || accept.includes(response.status)) return { data: outcome.data, status: response.status };
    const problem = readProblem(outcome.error);
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after') ?? undefined, Date.now());
    throw new UploadError({
      kind: 'http',
      method: call.method,
      status: response.status,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      ...(problem ? { problem } : {}),
      message: problemMessage(problem, `${call.method} ${call.path} answered ${response.status}`),
    });
  }

  /** A 2xx body checked against its schema: a server that answers something else is a bad gateway. */
  function parsed<T>(call: Call, schema: ZodType<T>) {
    return (value: unknown): T => {
      const result = schema.safeParse(value);
      if (result.success) return result.data;
      throw new UploadError({
        kind: 'http',
        method: call.method,
        status: 502,
        message: `${call.method} ${call.path} answered a body that is not what the API document says`,
      });
    };
  }

  /** GET /xrays/{id} with its `ETag` (the version read, for a correction's If-Match); undefined on 404. */
  async function xrayVersion(
    id: string,
    authorize: AuthorizeRequest,
  ): Promise<{ xray: Xray; etag?: string } | undefined> {
    const call = { method: 'GET', path: `/xrays/${id}`, unreachable: 'The server could not be asked about the X-ray.' };
    const seen: { etag?: string | null } = {};
    const { data, status } = await settle(call, async () => {
      const outcome = await client.GET('/xrays/{id}', {
        params: { path: { id } },
        headers: { Accept: 'application/json' },
        cache: 'no-store',
        middleware: [authorizing(authorize)],
      });
      seen.etag = outcome.response.headers.get('etag');
      return outcome;
    }, [404]);
    if (status === 404) return undefined;
    const xray = parsed(call, XraySchema)(data);
    return seen.etag ? { xray, etag: seen.etag } : { xray };
  }

  async function correctXrayVersion(
    id: string,
    patch: ApiSchema<'XrayUpdate'>,
    authorize: AuthorizeRequest,
    ifMatch?: string,
  ): Promise<{ xray: Xray; etag?: string }> {
    const call = { method: 'PATCH', path: `/xrays/${id}`, unreachable: 'The server could not be reached.' };
    const seen: { etag?: string | null } = {};
    const { data } = await settle(call, async () => {
      const outcome = await client.PATCH('/xrays/{id}', {
        params: { path: { id } },
        body: patch,
        headers: {
          Accept: 'application/json',
          'Content-Type': 'application/merge-patch+json',
          ...(ifMatch ? { 'If-Match': ifMatch } : {}),
        },
        cache: 'no-store',
        middleware: [authorizing(authorize)],
      });
      seen.etag = outcome.response.headers.get('etag');
      return outcome;
    });
    const xray = parsed(call, XraySchema)(data);
    return seen.etag ? { xray, etag: seen.etag } : { xray };
  }

  return {
    /** The typed client itself, for calls not listed here. */
    client,

    /** GET /xrays/{id}: what the server holds for a capture; undefined when it has none (404). */
    async xray(id: string, authorize: AuthorizeRequest): Promise<Xray | undefined> {
      return (await xrayVersion(id, authorize))?.xray;
    },

    /** GET /xrays/{id} with its `ETag` (the version read, for a correction's If-Match); undefined on 404. */
    xrayVersion,

    /** PATCH /xrays/{id} (a merge patch): the server re-checks the link and answers the X-ray. */
    async correctXray(id: string, patch: ApiSchema<'XrayUpdate'>, authorize: AuthorizeRequest): Promise<Xray> {
      return (await correctXrayVersion(id, patch, authorize)).xray;
    },

    /**
     * PATCH /xrays/{id} applied only to the version read (`ifMatch`, its ETag): a 412
     * `precondition_failed` says the X-ray changed since. Answers the X-ray and its new ETag.
     */
    correctXrayVersion,

    /** GET /roster: the patients and open consultations a paramedic may need offline. */
    async roster(authorize: AuthorizeRequest, signal?: AbortSignal): Promise<Roster> {
      const call = {
        method: 'GET',
        path: '/roster',
        unreachable: 'The patient list could not be refreshed (no answer).',
      };
      const { data } = await settle(call, () =>
        client.GET('/roster', {
          headers: { Accept: 'application/json' },
          cache: 'no-store',
          ...(signal ? { signal } : {}),
          middleware: [authorizing(authorize)],
        }),
      );
      return parsed(call, RosterSchema)(data);
    },

    /** GET /keys/upload: the server's upload key set (JWKS), unread (the key provider checks it). */
    async uploadKeys(): Promise<unknown> {
      const call = { method: 'GET', path: '/keys/upload', unreachable: 'the server key could not be fetched' };
      const { data } = await settle(call, () => client.GET('/keys/upload', { cache: 'no-store' }));
      return data;
    },

    /** POST /devices: enrolls the key that signs the proof (idempotent for the same key). */
    async enrollDevice(body: ApiSchema<'DeviceEnroll'>, authorize: AuthorizeRequest): Promise<ApiSchema<'Device'>> {
      const call = { method: 'POST', path: '/devices', unreachable: 'the server could not be reached to enroll' };
      const { data } = await settle(call, () =>
        client.POST('/devices', { body, cache: 'no-store', middleware: [authorizing(authorize)] }),
      );
      if (!data?.id)
        throw new UploadError({
          kind: 'http',
          method: 'POST',
          status: 502,
          message: 'the enrollment answer names no device id',
        });
      return data;
    },

    /** POST /devices/self/wipe-report: tells the server this device shredded its data. */
    async reportWipe(body: ApiSchema<'DeviceWipeReport'>, authorize: AuthorizeRequest): Promise<void> {
      const call = { method: 'POST', path: '/devices/self/wipe-report', unreachable: 'the wipe could not be reported' };
      await settle(call, () =>
        client.POST('/devices/self/wipe-report', { body, cache: 'no-store', middleware: [authorizing(authorize)] }),
      );
    },

    /** GET /edge-config: what the app needs before sign-in (public). */
    async edgeConfig(signal?: AbortSignal): Promise<EdgeServerConfig> {
      const call = { method: 'GET', path: '/edge-config', unreachable: 'the server could not be reached' };
      const { data } = await settle(call, () =>
        client.GET('/edge-config', { cache: 'no-store', ...(signal ? { signal } : {}) }),
      );
      return parsed(call, EdgeServerConfigSchema)(data);
    },
  };
}

export type ServerApi = ReturnType<typeof createServerApi>;
