import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dicomDimensionsForSize, sha256Hex, writeDicom } from '@xray/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestServer, type TestServer } from './harness.ts';
import { downloadSha, MiB, sealed, startTus } from './tus-client.ts';

// PostgreSQL restarting, failing over or refusing connections: the API answers at once with a
// 503 the client can retry (the edge app and doctors' tools do), and serves again once it is back.
describe('when PostgreSQL is unavailable', () => {
  let server: TestServer;
  let admin: pg.Client;
  let database: string;

  beforeAll(async () => {
    server = await startTestServer('fs');
    database = new URL(server.env.DATABASE_URL ?? '').pathname.slice(1);
    admin = new pg.Client({ connectionString: inject('pgAdminUrl') });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`).catch(() => undefined);
    await admin?.end();
    await server?.close();
  });

  const outage = async () => {
    await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
  };

  it('answers 503 problem+json with Retry-After, and serves again when the database is back', async () => {
    const id = randomUUID();
    expect((await fetch(`${server.url}/xrays/${id}`)).status).toBe(404);

    await outage();
    const res = await fetch(`${server.url}/xrays/${id}`);
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await res.json()).toMatchObject({ status: 503, code: 'unavailable' });
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);

    await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
    await expect.poll(async () => (await fetch(`${server.url}/xrays/${id}`)).status, { timeout: 10_000 }).toBe(404);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  }, 20_000);

  it('a tus upload whose database connections are all cut mid-way resumes and is stored byte-exact', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'xray-outage-'));
    const dicom = await readFile(
      (await writeDicom(path.join(dir, 'chest.dcm'), { ...dicomDimensionsForSize(8 * MiB), seed: 91 })).path,
    );
    await rm(dir, { recursive: true, force: true });
    const { body, metadata } = await sealed(server.url, dicom);
    let cut = false;
    const run = startTus({
      endpoint: `${server.url}/uploads`,
      file: body,
      metadata,
      chunkSize: 1 * MiB,
      // After the second chunk, every connection of the server (the locks', the pool's, the
      // LISTEN one) is ended, as a PostgreSQL restart would: the next PATCH meets it.
      onChunkComplete: (_sent, accepted) => {
        if (cut || accepted < 2 * MiB) return;
        cut = true;
        void admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
      },
    });
    const { xrayId } = await run.done;
    expect(cut).toBe(true);
    expect(xrayId).toBe(metadata.id);
    expect(await downloadSha(server.url, metadata.id ?? '')).toBe(sha256Hex(dicom));
  }, 60_000);
});
