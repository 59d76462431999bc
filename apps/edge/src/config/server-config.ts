import { EdgeServerConfigSchema, type EdgeServerConfig } from '@xray/shared';
import { createServerApi } from '../sync/server.api.ts';

export { EdgeServerConfigSchema, type EdgeServerConfig };

/** Before the server was ever reached: its documented default limit, no issuer, no patient list. */
export const DEFAULT_SERVER_CONFIG: EdgeServerConfig = {
  oidc: { issuer: null, audience: 'xray-api' },
  patientServiceUrl: null,
  maxUploadBytes: 1024 * 1024 * 1024,
};

const cacheKey = (serverUrl: string): string => `xray-edge.server-config:${serverUrl}`;

export interface ServerConfigSource {
  /** The last known config for this server (cache or defaults), at once and offline. */
  current(): EdgeServerConfig;
  /** Asks the server; on success the cache is updated. Never throws: offline keeps the cache. */
  refresh(): Promise<EdgeServerConfig>;
}

export function serverConfigSource(opts: {
  serverUrl: string;
  storage: Pick<Storage, 'getItem' | 'setItem'>;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** The server answered (the offline grace period starts again). */
  onContact?: () => void;
}): ServerConfigSource {
  const server = createServerApi({ baseUrl: opts.serverUrl, ...(opts.fetch ? { fetch: opts.fetch } : {}) });
  let current = (() => {
    try {
      const raw = opts.storage.getItem(cacheKey(opts.serverUrl));
      const parsed = raw ? EdgeServerConfigSchema.safeParse(JSON.parse(raw)) : undefined;
      return parsed?.success ? parsed.data : DEFAULT_SERVER_CONFIG;
    } catch {
      return DEFAULT_SERVER_CONFIG;
    }
  })();
  return {
    current: () => current,
    async refresh() {
      try {
        current = await server.edgeConfig(AbortSignal.timeout(opts.timeoutMs ?? 8_000));
        opts.storage.setItem(cacheKey(opts.serverUrl), JSON.stringify(current));
        opts.onContact?.();
      } catch {
        // Offline, the server down or answering something else: the cached config stands.
      }
      return current;
    },
  };
}
