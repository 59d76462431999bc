import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, makePng } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded-postgres.ts';
import { createLogger } from '../src/observability/logger.ts';
import { blobOf, postXray, validMetadata } from './harness.ts';
import { spawnServer, type ServerProcess } from './server-process.ts';
import { sealed, tusCreate } from './tus-client.ts';

/** The bound docs/operations.md promises for an answer while the database hangs. */
const ANSWER_WITHIN_MS = 10_000;
const SHUTDOWN_GRACE_MS = 8_000;

/** The postmaster and every process it started (backends, checkpointer, walwriter…). */
async function postgresProcesses(dataDir: string): Promise<number[]> {
  const postmaster = Number((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  const children: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid …: comm may hold spaces, so read after its closing parenthesis.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === postmaster) children.push(Number(entry));
  }
  return [postmaster, ...children];
}

/** Waits for the process to exit, or `ms`; true when it exited. */
const exitsWithin = (server: ServerProcess, ms: number): Promise<boolean> =>
  new Promise((resolve) => {
    if (server.child.exitCode !== null) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    server.child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });

// PostgreSQL frozen (SIGSTOP: it accepts TCP connections and answers nothing, as a hung host or
// a partition does). A private PostgreSQL: the machine's shared one is never stopped.
describe('when PostgreSQL hangs', () => {
  let dataDir: string;
  let pg: EmbeddedDatabase;
  let server: ServerProcess;
  let frozen: number[] = [];

  const thaw = () => {
    for (const pid of frozen.toReversed()) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
    frozen = [];
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'xray-hang-'));
    // As root, PostgreSQL runs as `postgres`, which must be able to reach its directory.
    await chmod(dataDir, 0o711);
    pg = await startEmbeddedPostgres(path.join(dataDir, 'pg'), await freePort(), createLogger('silent'));
    server = await spawnServer({
      NODE_ENV: 'test',
      DATA_DIR: path.join(dataDir, 'server'),
      DATABASE_URL: pg.url,
      SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS),
    });
  }, 120_000);

  afterAll(async () => {
    thaw();
    await server?.kill('SIGKILL');
    await pg?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('every route answers 503 problem+json with Retry-After within 10 s, and SIGTERM stops within its grace', async () => {
    const png = makePng({ seed: 41 });
    const created = await postXray(server.url, validMetadata(), blobOf(png));
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const upload = await sealed(server.url, png);
    const uploadUrl = await tusCreate(server.url, upload.body, upload.metadata);

    try {
      // Every process of this PostgreSQL, postmaster first so it starts no new one.
      frozen = await postgresProcesses(path.join(dataDir, 'pg', 'postgres'));
      for (const pid of frozen) process.kill(pid, 'SIGSTOP');

      const within = { signal: AbortSignal.timeout(ANSWER_WITHIN_MS) };
      const form = new FormData();
      form.append('metadata', JSON.stringify(validMetadata()));
      form.append('file', blobOf(makePng({ seed: 42 })), 'image.png');
      const answers = await Promise.all([
        fetch(`${server.url}/xrays`, within),
        fetch(`${server.url}/xrays/${id}`, within),
        fetch(`${server.url}/xrays/${id}/download`, within),
        fetch(`${server.url}/xrays`, { method: 'POST', body: form, ...within }),
        fetch(uploadUrl, {
          method: 'PATCH',
          headers: {
            'Tus-Resumable': '1.0.0',
            'Upload-Offset': '0',
            'Content-Type': 'application/offset+octet-stream',
          },
          body: new Uint8Array(upload.body),
          ...within,
        }),
        fetch(`${server.url}/readyz`, within),
      ]);
      const routes = ['GET /xrays', 'GET /xrays/{id}', 'download', 'POST /xrays', 'tus PATCH', 'GET /readyz'];
      const seen = await Promise.all(
        answers.map(async (res, i) => ({
          route: routes[i],
          status: res.status,
          type: res.headers.get('content-type')?.split(';')[0],
          retryAfter: res.headers.get('retry-after'),
          code: ((await res.json()) as { code?: string; status?: string }).code,
        })),
      );
      for (const s of seen.slice(0, 5))
        expect(s).toMatchObject({
          status: 503,
          type: 'application/problem+json',
          retryAfter: '5',
          code: 'unavailable',
        });
      expect(seen[5]).toMatchObject({ route: 'GET /readyz', status: 503 });

      // Still frozen: the stop cannot wait for the database (pools, the last audit checkpoint).
      server.child.kill('SIGTERM');
      expect(await exitsWithin(server, SHUTDOWN_GRACE_MS + 2_000)).toBe(true);
    } finally {
      thaw();
    }
  }, 60_000);
});
