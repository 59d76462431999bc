// Attack on issue 22's fsync of finished tus uploads (tus-store.adapter.ts persist): when the
// disk cannot make the X-ray's bytes durable, the final PATCH must fail clearly and leave no
// X-ray row, no upload row that claims it finished, no object and no lock; the client's retry,
// once the disk is back, stores it.
import { setTimeout as sleep } from 'node:timers/promises';
import { makePng, sha256Hex } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { headerActor, startTestServer, storedObjects, type TestServer } from './harness.ts';
import { encodeMeta, sealed, startTus } from './tus-client.ts';

/** While set, an fsync of a finished upload's bytes (at its X-ray key) fails as a dying disk does. */
const disk = vi.hoisted(() => ({ failing: false, failed: 0 }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof real.open = async (...args) => {
    const fh = await real.open(...args);
    const at = String(args[0]);
    if (disk.failing && /[/\\]xrays[/\\][^/\\]+[/\\]tus-/.test(at)) {
      fh.sync = async () => {
        disk.failed++;
        throw Object.assign(new Error(`EIO: i/o error, fsync '${at}'`), { code: 'EIO', errno: -5, syscall: 'fsync' });
      };
    }
    return fh;
  };
  return { ...real, open, default: { ...real, open } };
});

const OWNER = 'para-i22-fsync; paramedic';

describe('attack 22 ingest: a finished tus upload whose bytes cannot be made durable', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer('fs', { TUS_CLEANUP_INTERVAL_MS: '3600000' }, { authenticate: headerActor });
  });
  afterAll(async () => {
    disk.failing = false;
    await server?.close();
  });

  it('the final PATCH is a clear 5xx problem, nothing of the X-ray stays, no lock is held, and the retry stores it', async () => {
    const plain = Buffer.from(makePng({ width: 300, height: 300, seed: 2270 }));
    const { body, metadata } = await sealed(server.url, plain, { patientId: 'P-I22-FSYNC' });
    const created = await fetch(`${server.url}/uploads`, {
      method: 'POST',
      headers: {
        'Tus-Resumable': '1.0.0',
        'X-Test-Actor': OWNER,
        'Upload-Length': String(body.length),
        'Upload-Metadata': encodeMeta(metadata),
      },
    });
    expect(created.status).toBe(201);
    const url = created.headers.get('location') ?? '';
    const uploadId = new URL(url).pathname.split('/').pop() ?? '';

    disk.failing = true;
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method: 'PATCH',
        headers: {
          'Tus-Resumable': '1.0.0',
          'X-Test-Actor': OWNER,
          'Content-Type': 'application/offset+octet-stream',
          'Upload-Offset': '0',
        },
        body: new Uint8Array(body),
      });
      text = await res.text();
    } finally {
      disk.failing = false;
    }
    expect(disk.failed).toBeGreaterThan(0);
    // A clear refusal: problem+json with a code, a server-side status, no file path or errno.
    expect(res.status, text).toBeGreaterThanOrEqual(500);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const problem = JSON.parse(text) as { code?: string; detail?: string };
    expect(typeof problem.code).toBe('string');
    expect(text).not.toMatch(/EIO|fsync|\/tmp\//);
    expect(res.headers.get('x-xray-id')).toBeNull();

    const xrays = await server.pool.query('SELECT 1 FROM xrays WHERE id = $1', [metadata.id]);
    expect(xrays.rowCount).toBe(0);
    const finished = await server.pool.query('SELECT 1 FROM tus_uploads WHERE id = $1 AND finalized_at IS NOT NULL', [
      uploadId,
    ]);
    expect(finished.rowCount).toBe(0);
    const events = await server.pool.query(
      "SELECT 1 FROM outbox_events WHERE xray_id = $1 AND type = 'xray.uploaded'",
      [metadata.id],
    );
    expect(events.rowCount).toBe(0);
    // Nothing at the X-ray's key (its object or its recovery record) once the failure is cleaned up.
    let left: string[] = [];
    // Polled for up to 20 s (a busy machine); whatever stays fails the assertion after it.
    for (let i = 0; i < 200; i++) {
      left = (await storedObjects(server)).filter((k) => k.includes(metadata.id));
      if (left.length === 0) break;
      await sleep(100);
    }
    expect(left).toEqual([]);
    let locks = -1;
    for (let i = 0; i < 400 && locks !== 0; i++) {
      const { rows } = await server.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
          WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()`,
      );
      locks = rows[0]?.n ?? -1;
      if (locks !== 0) await sleep(50);
    }
    expect(locks).toBe(0);

    // The disk is back: the edge uploads again (a new upload for the same X-ray id) and it is stored.
    const again = await startTus({
      endpoint: `${server.url}/uploads`,
      file: body,
      metadata,
      headers: { 'X-Test-Actor': OWNER },
    }).done;
    expect(again.xrayId).toBe(metadata.id);
    const dl = await fetch(`${server.url}/xrays/${metadata.id}/download`, { headers: { 'X-Test-Actor': OWNER } });
    expect(dl.status).toBe(200);
    expect(sha256Hex(Buffer.from(await dl.arrayBuffer()))).toBe(sha256Hex(plain));
  });
});
