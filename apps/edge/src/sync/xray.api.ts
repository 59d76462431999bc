import { bearerAuthorizer, type ServerAuthorizer } from '../auth/server.authorizer.ts';
import { getFromServer } from './server.get.ts';
import { UploadError } from './uploader.ts';

/** What the server says it holds for an id. */
export type XrayLookup = { found: true; id: string; sha256: string } | { found: false };

/** The REST calls the engine makes besides tus: confirming an X-ray when no upload response said so. */
export interface XrayApi {
  lookup(id: string, token: string): Promise<XrayLookup>;
}

export function createXrayApi(opts: { baseUrl: string; fetch?: typeof fetch; authorize?: ServerAuthorizer }): XrayApi {
  const doFetch = opts.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  return {
    async lookup(id, token) {
      const url = `${opts.baseUrl}/xrays/${encodeURIComponent(id)}`;
      const auth = await (opts.authorize ?? bearerAuthorizer)(token, 'GET', url);
      const res = await getFromServer(
        doFetch,
        url,
        { headers: { ...auth, Accept: 'application/json' }, cache: 'no-store' },
        { path: `/xrays/${id}`, unreachable: 'the server could not be asked about the X-ray', accept: [404] },
      );
      if (res.status === 404) return { found: false };
      const body: unknown = JSON.parse(await res.text());
      const xid: unknown = typeof body === 'object' && body !== null ? Reflect.get(body, 'id') : undefined;
      const sha: unknown = typeof body === 'object' && body !== null ? Reflect.get(body, 'sha256') : undefined;
      if (typeof xid !== 'string' || typeof sha !== 'string') {
        throw new UploadError({
          kind: 'http',
          method: 'GET',
          status: 502,
          message: 'the X-ray resource has no id or sha256',
        });
      }
      return { found: true, id: xid, sha256: sha };
    },
  };
}
