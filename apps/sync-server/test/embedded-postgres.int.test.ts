import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '@xray/testkit';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.ts';
import { spawnServer } from './server-process.ts';

// `npm start`'s database. When PostgreSQL cannot start, its library rejects with nothing at
// all; the developer must instead see why, and what to change.
describe('embedded PostgreSQL', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it("names a taken port, the setting to change and PostgreSQL's own words", async () => {
    const port = await freePort();
    const squatter: Server = await new Promise((resolve) => {
      const s = createServer().listen(port, '127.0.0.1', () => resolve(s));
    });
    cleanup.push(() => new Promise((r) => squatter.close(r)));
    const dataDir = await mkdtemp(path.join(tmpdir(), 'xray-embedded-pg-'));
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));

    const started = startEmbeddedPostgres(dataDir, port, pino({ level: 'silent' }));
    await expect(started).rejects.toThrow(`port ${port} is in use; set EMBEDDED_PG_PORT`);
    await expect(started).rejects.toThrow(/could not bind IPv4 address "127\.0\.0\.1": Address already in use/);
  }, 60_000);

  it('stops last on SIGTERM: the server drains, PostgreSQL shuts down cleanly, the process exits 0', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'xray-embedded-pg-'));
    await chmod(dataDir, 0o755); // PostgreSQL runs as the postgres user when we are root
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const server = await spawnServer({
      NODE_ENV: 'development',
      DATABASE_URL: undefined,
      DATA_DIR: dataDir,
      EMBEDDED_PG_PORT: String(await freePort()),
      DEV_PATIENT_PORT: '0',
      DEV_DOCTOR_PORT: '0',
    });
    cleanup.push(() => server.kill('SIGKILL'));
    const ready = await fetch(`${server.url}/readyz`);
    expect((await ready.json()).checks).toMatchObject({ database: 'ok' });
    expect(existsSync(path.join(dataDir, 'postgres/postmaster.pid'))).toBe(true);

    await server.kill('SIGTERM');
    // The library's own signal hook used to stop PostgreSQL under the draining server and exit 143.
    expect(server.child.exitCode, server.stderr()).toBe(0);
    expect(existsSync(path.join(dataDir, 'postgres/postmaster.pid'))).toBe(false);
  }, 120_000);
});
