import createClient, { type Client, type ClientOptions, type Middleware } from 'openapi-fetch';
import type { components, paths } from './openapi.d.ts';

/**
 * The sync server's API as a typed client: openapi-fetch over the types openapi-typescript
 * generates from apps/sync-server/openapi.json (./openapi.d.ts, regenerated with
 * `pnpm --filter @xray/sync-server openapi`; a test fails when it drifts). Paths, parameters,
 * bodies and answers are checked by the compiler against the published document, so a route
 * that changes shape breaks the edge app's and the tests' calls at compile time.
 */
export type { components, paths, webhooks } from './openapi.d.ts';
export type { Middleware } from 'openapi-fetch';

export type ApiClient = Client<paths>;

/** A named schema of the document: `ApiSchema<'Xray'>`. */
export type ApiSchema<Name extends keyof components['schemas']> = components['schemas'][Name];

export interface ApiClientOptions {
  /** The server's base URL (`https://xray.example`), no trailing slash needed. */
  baseUrl: string;
  /** The fetch requests go through (a wrapper that watches answers, a test's stand-in). */
  fetch?: (request: Request) => Promise<Response>;
  /** Headers sent with every request. */
  headers?: ClientOptions['headers'];
  /** Run on each request and answer (authorization per request, for one). */
  middleware?: Middleware[];
}

export function createApiClient(opts: ApiClientOptions): ApiClient {
  const client = createClient<paths>({
    baseUrl: opts.baseUrl,
    // Looked up at each call, not captured: a test or page may replace globalThis.fetch later.
    fetch: opts.fetch ?? ((request) => globalThis.fetch(request)),
    ...(opts.headers ? { headers: opts.headers } : {}),
  });
  for (const m of opts.middleware ?? []) client.use(m);
  return client;
}
