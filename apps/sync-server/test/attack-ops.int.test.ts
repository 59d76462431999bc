import { randomUUID } from 'node:crypto';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dicomIndexCommand } from '../src/cli/dicom-index.command.ts';
import { blobOf, headerActor, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { runAdmin } from './server-process.ts';

/**
 * The operator's side of S3 downloads and of the admin commands' events: S3_DOWNLOAD_CONNECTIONS
 * as the server is started with it, the xray_s3_download_* series as /metrics shows them, and the
 * events `xray-admin dicom-index` writes with the server's sinks configured.
 */
const MEDIC = 'medic-ops; paramedic';
const DOCTOR = 'doctor-ops; doctor';

const scrape = async (server: TestServer) => (await fetch(`${server.metricsUrl}/metrics`)).text();
const valueIn = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('S3_DOWNLOAD_CONNECTIONS=2, as an operator sets it, and what /metrics says of it', () => {
  let server: TestServer;
  let bigId: string;
  const held: ClientRequest[] = [];
  const answers: IncomingMessage[] = [];

  beforeAll(async () => {
    server = await startTestServer(
      's3',
      { S3_DOWNLOAD_CONNECTIONS: '2', DOWNLOAD_MAX_STREAMS_PER_USER: '16' },
      { authenticate: headerActor },
    );
    bigId = randomUUID();
    const res = await postXray(
      server.url,
      validMetadata({ id: bigId }),
      blobOf(makeDicom({ rows: 1024, columns: 1024, frames: 8, seed: 4401 })),
      { 'X-Test-Actor': MEDIC },
    );
    expect(res.status, await res.text()).toBe(201);
  }, 60_000);
  afterAll(async () => {
    for (const r of held) r.destroy();
    await server?.close();
  });

  it('before any download: each event counted at 0 (a first `changed` shows in increase()), the pool at 0', async () => {
    const text = await scrape(server);
    for (const event of ['released', 'reopened', 'changed'])
      expect(valueIn(text, `xray_s3_download_reads_total{event="${event}"}`), event).toBe(0);
    expect(valueIn(text, 'xray_s3_download_connections{state="in_use"}')).toBe(0);
    expect(valueIn(text, 'xray_s3_download_connections{state="waiting"}')).toBe(0);
    // The setting beside them: in use out of the limit is one expression.
    expect(valueIn(text, 'xray_s3_download_connections{state="limit"}')).toBe(2);
  });

  it('four unread downloads: never more than 2 connections in use, the others shown waiting; all back to 0 once they end', async () => {
    const { hostname, port } = new URL(server.url);
    const maxInUse: number[] = [];
    let sawWaiting = false;
    const all = new Promise<void>((resolve, reject) => {
      for (let i = 0; i < 4; i++) {
        const req = request(
          { hostname, port, path: `/xrays/${bigId}/download`, headers: { 'X-Test-Actor': DOCTOR } },
          (res) => {
            res.pause();
            if (res.statusCode !== 200) reject(new Error(`download answered ${res.statusCode}`));
            answers.push(res);
            if (answers.length === 4) resolve();
          },
        );
        req.on('error', reject);
        req.end();
        held.push(req);
      }
    });
    let done = false;
    void all.finally(() => (done = true));
    while (!done) {
      const text = await scrape(server);
      maxInUse.push(valueIn(text, 'xray_s3_download_connections{state="in_use"}') ?? -1);
      if ((valueIn(text, 'xray_s3_download_connections{state="waiting"}') ?? 0) > 0) sawWaiting = true;
      await sleep(20);
    }
    await all;
    // The pool is the setting's: 2 sockets, not the default 50 (4 downloads could all hold one).
    expect(Math.max(...maxInUse)).toBe(2);
    expect(sawWaiting).toBe(true);
    const text = await scrape(server);
    expect(valueIn(text, 'xray_s3_download_connections{state="in_use"}')).toBeLessThanOrEqual(2);
    expect(valueIn(text, 'xray_s3_download_reads_total{event="released"}')).toBeGreaterThanOrEqual(2);
    // The downloads end (their clients go away): nothing in use, nothing waiting.
    for (const r of held) r.destroy();
    for (let i = 0; ; i++) {
      const after = await scrape(server);
      const inUse = valueIn(after, 'xray_s3_download_connections{state="in_use"}');
      const waiting = valueIn(after, 'xray_s3_download_connections{state="waiting"}');
      if (inUse === 0 && waiting === 0) break;
      expect(i, `in_use ${inUse}, waiting ${waiting}`).toBeLessThan(500);
      await sleep(20);
    }
  }, 60_000);
  it('a paused download whose X-ray is deleted meanwhile: cut when read on, and counted `changed` once', async () => {
    const id = randomUUID();
    const posted = await postXray(
      server.url,
      validMetadata({ id }),
      blobOf(makeDicom({ rows: 1024, columns: 1024, frames: 8, seed: 4402 })),
      { 'X-Test-Actor': MEDIC },
    );
    expect(posted.status, await posted.text()).toBe(201);
    const counter = async (event: string) =>
      valueIn(await scrape(server), `xray_s3_download_reads_total{event="${event}"}`) ?? 0;
    const [released0, changed0] = [await counter('released'), await counter('changed')];
    const { hostname, port } = new URL(server.url);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(
        { hostname, port, path: `/xrays/${id}/download`, headers: { 'X-Test-Actor': DOCTOR } },
        (r) => {
          r.pause();
          resolve(r);
        },
      );
      req.on('error', reject);
      req.end();
      held.push(req);
    });
    expect(res.statusCode).toBe(200);
    // Left unread: it lets go of its connection (10 s in any case).
    for (let i = 0; (await counter('released')) === released0; i++) {
      expect(i).toBeLessThan(1000);
      await sleep(20);
    }
    const del = await fetch(`${server.url}/xrays/${id}`, {
      method: 'DELETE',
      headers: { 'X-Test-Actor': 'admin-ops; admin' },
    });
    expect(del.status).toBe(204);
    let got = 0;
    const ended = await new Promise<string>((resolve) => {
      res.on('data', (c: Buffer) => (got += c.length));
      res.once('end', () => resolve('end'));
      res.once('error', () => resolve('error'));
      res.once('aborted', () => resolve('aborted'));
      res.once('close', () => resolve('close'));
      res.resume();
    });
    expect(res.complete, `${ended} after ${got} bytes`).toBe(false);
    expect((await counter('changed')) - changed0).toBe(1);
  }, 60_000);
});

describe('disk storage: no S3 download series', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('fs', {}, { authenticate: headerActor });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('/metrics has no xray_s3_download sample (no misleading zeros)', async () => {
    const samples = (await scrape(server)).split('\n').filter((l) => l.startsWith('xray_s3_download'));
    expect(samples).toEqual([]);
  });
});

describe('xray-admin dicom-index with the server’s sinks configured', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(
      'fs',
      {
        // Sinks nobody answers at: the rows stay pending (what matters here is that they exist).
        DOCTOR_SERVICE_URL: 'http://127.0.0.1:9/hook',
        WEBHOOK_SECRET: 'ops-secret-ops-secret-ops-secret',
        AMQP_URL: 'amqp://127.0.0.1:9',
        PUBLIC_URL: 'http://127.0.0.1:8080',
      },
      { authenticate: headerActor },
    );
  });
  afterAll(async () => {
    await server?.close();
  });

  it('the xray.updated event of an X-ray it flags gets a delivery for each sink', async () => {
    const sopInstanceUid = '1.2.826.0.1.3680043.10.1919.44.1';
    const [holder, next] = [randomUUID(), randomUUID()];
    for (const [id, seed] of [
      [holder, 4411],
      [next, 4412],
    ] as const) {
      const res = await postXray(
        server.url,
        validMetadata({ id }),
        blobOf(makeDicom({ rows: 16, columns: 16, seed, sopInstanceUid })),
        { 'X-Test-Actor': MEDIC },
      );
      expect(res.status, await res.text()).toBe(201);
    }
    // Stored before the index existed: the second file has no index row (nor its flag) yet.
    await server.pool.query('DELETE FROM dicom_instances WHERE xray_id = $1', [next]);
    const out: string[] = [];
    const code = await dicomIndexCommand.run([], { out: (l) => out.push(l), err: (l) => out.push(l), env: server.env });
    expect(code, out.join('\n')).toBe(0);
    const { rows } = await server.pool.query<{ sink: string }>(
      `SELECT d.sink FROM outbox_events e JOIN outbox_deliveries d ON d.event_id = e.id
        WHERE e.xray_id = $1 AND e.type = 'xray.updated' ORDER BY d.sink`,
      [next],
    );
    expect(rows.map((r) => r.sink)).toEqual(['amqp', 'webhook']);
  });

  it('run as a process with those sinks set: it ends (nothing of them started), exit 0, nothing on stderr', async () => {
    const r = await xrayAdmin(['dicom-index'], server.env);
    expect(r).toEqual({ code: 0, stdout: 'Indexed 0 DICOM X-ray(s).\n', stderr: '' });
    const recovered = await xrayAdmin(['recover'], server.env);
    expect(recovered.stderr).toBe('');
    expect(recovered.code, recovered.stdout).toBe(0);
  }, 60_000);
});

/** `xray-admin <args>` as an operator runs it (a process of its own), with that environment only. */
const xrayAdmin = (args: string[], env: Record<string, string>) => runAdmin(args, env, undefined, { onlyEnv: true });

describe('xray-admin recover and dicom-index run as a process, nothing configured beyond the database and store', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('fs', {}, { authenticate: headerActor });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('dicom-index: exit 0, its one line, nothing on stderr', async () => {
    const r = await xrayAdmin(['dicom-index'], server.env);
    expect(r).toEqual({ code: 0, stdout: 'Indexed 0 DICOM X-ray(s).\n', stderr: '' });
  }, 60_000);

  it('recover: exit 0, nothing on stderr', async () => {
    const r = await xrayAdmin(['recover'], server.env);
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(0);
  }, 60_000);
});
