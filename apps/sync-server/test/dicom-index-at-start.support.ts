import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { makeDicom, type DicomOptions } from '@xray/testkit';
import pg from 'pg';
import { pino } from 'pino';
import { expect } from 'vitest';
import { loadConfig } from '../src/config/config.ts';
import { start, type RunningServer, type StartOptions } from '../src/server.ts';
import type { ObjectStore } from '../src/storage/index.ts';
import {
  blobOf,
  createTestStorage,
  headerActor,
  postXray,
  testServerEnv,
  validMetadata,
  type TestStorage,
} from './harness.ts';

/** Harness of the DICOM index at start's tests: servers booted on one database, what they log and read. */

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** A server instance of the test's cluster, and its log lines (debug and up), parsed. */
export interface Instance {
  server: RunningServer;
  lines: LogLine[];
}

/** The log lines of the DICOM index at start. */
export const indexLines = (i: Instance) => i.lines.filter((l) => l.msg.startsWith('DICOM index at start'));
/** Its summaries: the line that ends each run, with its counts. */
export const summaries = (i: Instance) => indexLines(i).filter((l) => 'indexed' in l);

/**
 * Store reads of X-ray objects, as a `decorateStore`: each put in `gate.reads` when given (what a
 * run read), and waiting on `gate.wait` while it is set (a slow or stalled store).
 */
export function gatedReads(gate: { wait?: (key: string) => Promise<void>; reads?: string[] }) {
  return (store: ObjectStore): ObjectStore =>
    new Proxy(store, {
      get(target, p) {
        if (p === 'get')
          return async (...args: Parameters<ObjectStore['get']>) => {
            if (args[0].startsWith('xrays/')) {
              gate.reads?.push(args[0]);
              if (gate.wait) await gate.wait(args[0]);
            }
            return target.get(...args);
          };
        const v: unknown = Reflect.get(target, p, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
}

/**
 * Clusters for a describe: `cluster()` makes a fresh database and store, on which `boot` starts
 * in-process instances (logging at debug into parsed lines) and `stop` stops one. `stopAll` (its
 * afterEach) stops what a test left running and drops the storage.
 */
export function clusters() {
  const running = new Set<RunningServer>();
  const storages: TestStorage[] = [];

  async function cluster() {
    const storage = await createTestStorage('fs');
    storages.push(storage);
    const env = await testServerEnv(storage);
    const boot = async (extraEnv: Record<string, string> = {}, opts: StartOptions = {}): Promise<Instance> => {
      const lines: LogLine[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
          done();
        },
      });
      const server = await start(loadConfig({ ...env, ...extraEnv }), {
        authenticate: headerActor,
        log: pino({ level: 'debug' }, sink),
        ...opts,
      });
      running.add(server);
      return { server, lines };
    };
    const stop = async (i: Instance) => {
      running.delete(i.server);
      await i.server.stop();
    };
    return { env, boot, stop };
  }

  async function stopAll() {
    for (const s of running) await s.stop();
    running.clear();
    for (const s of storages.splice(0)) await s.cleanup();
  }

  return { cluster, stopAll };
}

/** Posts a 16×16 DICOM X-ray as `actor`, its metadata under the DICOM's PatientID; its id. */
export async function postDicom(
  server: RunningServer,
  dicom: DicomOptions & { patientId: string },
  actor: string,
): Promise<string> {
  const id = randomUUID();
  const res = await postXray(
    server.url,
    validMetadata({ id, patientId: dicom.patientId }),
    blobOf(makeDicom({ rows: 16, columns: 16, ...dicom })),
    { 'X-Test-Actor': actor },
  );
  expect(res.status, await res.clone().text()).toBe(201);
  return id;
}

/**
 * X-rays stored as if before the index (posted as `actor`, then their index rows removed), the
 * `n`th of a test file with seed `seed + n` and PatientID `${patientPrefix}${n}`: numbered per file,
 * so the files' X-rays do not meet.
 */
export function storingBeforeIndex(file: { actor: string; seed: number; patientPrefix: string; uidRoot: string }) {
  async function storedBeforeIndex(server: RunningServer, sopInstanceUid: string, n: number): Promise<string> {
    const dicom = { seed: file.seed + n, sopInstanceUid, patientId: `${file.patientPrefix}${n}` };
    const id = await postDicom(server, dicom, file.actor);
    await server.pool.query('DELETE FROM dicom_instances WHERE xray_id = $1', [id]);
    return id;
  }
  /** X-rays `from` to `to - 1`, each under a UID of its own (`${uidRoot}.${n}`). */
  async function storedSeries(server: RunningServer, from: number, to: number): Promise<string[]> {
    const ids: string[] = [];
    for (let n = from; n < to; n++) ids.push(await storedBeforeIndex(server, `${file.uidRoot}.${n}`, n));
    return ids;
  }
  return { storedBeforeIndex, storedSeries };
}

/** What QIDO-RS finds for `actor` under a SOP Instance UID: the instances' PatientIDs. */
export async function qido(server: RunningServer, sop: string, actor: string): Promise<unknown[]> {
  const res = await fetch(`${server.url}/dicom-web/instances?SOPInstanceUID=${sop}`, {
    headers: { 'X-Test-Actor': actor, Accept: 'application/dicom+json' },
  });
  expect(res.status).toBeLessThan(300);
  const body = res.status === 204 ? [] : ((await res.json()) as Record<string, { Value?: unknown[] }>[]);
  return body.map((d) => d['00100020']?.Value?.[0]);
}

/** A query outside the servers' pools (none running, or their state not to be touched). */
export async function outside<T>(env: Record<string, string>, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: env.DATABASE_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Which of `ids` have an index row, in id order (asked outside the servers' pools). */
export const indexedIn = (env: Record<string, string>, ids: string[]) =>
  outside(env, async (c) =>
    (
      await c.query<{ xray_id: string }>(
        'SELECT xray_id FROM dicom_instances WHERE xray_id = ANY($1::uuid[]) ORDER BY xray_id',
        [ids],
      )
    ).rows.map((r) => r.xray_id),
  );
