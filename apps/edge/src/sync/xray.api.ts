import { bearerAuthorizer, type ServerAuthorizer } from '../auth/server.authorizer.ts';
import { createServerApi } from './server.api.ts';

/** What the server says it holds for an id. */
export type XrayLookup = { found: true; id: string; sha256: string } | { found: false };

/** The REST calls the engine makes besides tus: confirming an X-ray when no upload response said so. */
export interface XrayApi {
  lookup(id: string, token: string): Promise<XrayLookup>;
}

export function createXrayApi(opts: { baseUrl: string; fetch?: typeof fetch; authorize?: ServerAuthorizer }): XrayApi {
  const server = createServerApi(opts);
  const authorize = opts.authorize ?? bearerAuthorizer;
  return {
    async lookup(id, token) {
      const x = await server.xray(id, (method, url) => authorize(token, method, url));
      return x ? { found: true, id: x.id, sha256: x.sha256 } : { found: false };
    },
  };
}
