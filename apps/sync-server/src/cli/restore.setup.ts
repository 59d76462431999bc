import { loadConfig, type Config } from '../config/config.ts';
import type { OutboxWriter } from '../events/outbox.repository.ts';
import { listeningUrl } from '../http/public-url.ts';
import {
  createIntegrations,
  createNotifiers,
  createServerOutboxWriter,
  type Integrations,
} from '../integrations/integrations.ts';
import type { Logger } from '../observability/logger.ts';
import { createPool, type Pool } from '../db/pool.ts';
import { loadOrCreateDevKeys } from '../keys/dev-keys.ts';
import { confirmKeks } from '../keys/kek-check.ts';
import { createConfigKeyService, type KeyService } from '../keys/key.service.ts';
import { createObjectStore, type ObjectStore } from '../storage/index.ts';

/** What `check`, `recover` and `dicom-index` work on: the server's own configuration, database, store and keys. */
export interface RestoreTools {
  config: Config;
  pool: Pool;
  store: ObjectStore;
  keys: KeyService;
}

/**
 * Opens them from the server's settings (DATABASE_URL, S3_* or DATA_DIR, KEK or the development
 * keys); every configured KEK is compared with the check value recorded for it first.
 */
async function openRestoreTools(env: Record<string, string | undefined>): Promise<RestoreTools> {
  const config = loadConfig(env);
  if (!config.db.url) throw new Error('DATABASE_URL is not set: point it at the sync server database.');
  const keys = await createConfigKeyService(config.keys ?? (await loadOrCreateDevKeys(config.dataDir)));
  const pool = createPool(config.db.url, 2);
  try {
    const store = await createObjectStore(config.storage);
    await confirmKeks(pool, keys);
    return { config, pool, store, keys };
  } catch (err) {
    await pool.end();
    throw err;
  }
}

/** Runs `work` on the tools opened by openRestoreTools; the database pool is closed after, however it ends. */
export async function withRestoreTools<T>(
  env: Record<string, string | undefined>,
  work: (tools: RestoreTools) => Promise<T>,
): Promise<T> {
  const tools = await openRestoreTools(env);
  try {
    return await work(tools);
  } finally {
    await tools.pool.end();
  }
}

/** The address the server listens on (HOST, PORT): the base of event links without PUBLIC_URL. */
const serverUrl =
  ({ config }: RestoreTools) =>
  (): string =>
    listeningUrl(config.http.host, config.http.port);

/**
 * The Patient Service client and the outbox writer exactly as the server builds them: events a
 * command commits go to the server's sinks (its relays deliver them); nothing is started.
 */
export const serverIntegrations = (tools: RestoreTools, log: Logger): Integrations =>
  createIntegrations(tools.config, tools.pool, log, serverUrl(tools));

/** Only the server's outbox writer, for a command that writes events but checks no link. */
export const serverOutbox = (tools: RestoreTools, log: Logger): OutboxWriter =>
  createServerOutboxWriter(tools.config, createNotifiers(tools.config, log, 'xray-admin'), serverUrl(tools));
