import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Page } from '@playwright/test';
import type { CaptureSummary } from '@xray/edge';
import type { CaptureInput, CaptureOptions, CaptureResult } from '@xray/edge';
import '@xray/edge/harness';
import type { TestFiles } from './files.ts';

export interface StackInfo {
  url: string;
  /** The server's Prometheus listener (not on the API port). */
  metricsUrl: string;
  issuer: string;
  patientServiceUrl: string;
  doctorReceivedUrl: string;
  amqp: { url: string; exchange: string };
  tokens: { paramedic: string; doctor: string; admin: string };
  files: TestFiles;
  /** The directory the server serves the app from (a test may deploy a new version into it). */
  siteDir: string;
  /** Where the test X-ray files are (a test may write more there). */
  filesDir: string;
}

export function stackInfo(): StackInfo {
  const raw = process.env.E2E_STACK;
  if (!raw) throw new Error('E2E_STACK is not set: run through playwright.config.ts (global setup starts the stack)');
  return parseStackInfo(JSON.parse(raw));
}

/** Checks the stack description global setup wrote (JSON in the environment). */
function parseStackInfo(v: unknown): StackInfo {
  const get = (o: unknown, k: string): unknown => (typeof o === 'object' && o !== null ? Reflect.get(o, k) : undefined);
  const str = (o: unknown, k: string): string => {
    const s = get(o, k);
    if (typeof s !== 'string') throw new Error(`E2E_STACK: ${k} is missing`);
    return s;
  };
  const file = (k: keyof TestFiles): TestFiles[typeof k] => {
    const f = get(get(v, 'files'), k);
    const size = get(f, 'size');
    if (typeof size !== 'number') throw new Error(`E2E_STACK: files.${k} is missing`);
    return { path: str(f, 'path'), size, sha256: str(f, 'sha256') };
  };
  const tokens = get(v, 'tokens');
  const amqp = get(v, 'amqp');
  return {
    url: str(v, 'url'),
    metricsUrl: str(v, 'metricsUrl'),
    issuer: str(v, 'issuer'),
    patientServiceUrl: str(v, 'patientServiceUrl'),
    doctorReceivedUrl: str(v, 'doctorReceivedUrl'),
    amqp: { url: str(amqp, 'url'), exchange: str(amqp, 'exchange') },
    tokens: { paramedic: str(tokens, 'paramedic'), doctor: str(tokens, 'doctor'), admin: str(tokens, 'admin') },
    files: { dicom18: file('dicom18'), png: file('png'), jpeg: file('jpeg') },
    siteDir: str(v, 'siteDir'),
    filesDir: str(v, 'filesDir'),
  };
}

export const CHUNK = 5 * 1024 * 1024;

/** Opens the edge test page (served by the sync server) signed in as `token`; the token survives reloads. */
export async function openEdge(
  page: Page,
  stack: StackInfo,
  query: Record<string, string | number> = {},
): Promise<void> {
  await page.addInitScript((token) => {
    Reflect.set(globalThis, '__XRAY_TOKEN__', token);
  }, stack.tokens.paramedic);
  const qs = new URLSearchParams(
    Object.entries({ chunkMiB: 5, retryBaseMs: 300, retryMaxMs: 3000, ...query }).map(([k, v]) => [k, String(v)]),
  );
  await page.goto(`${stack.url}/harness.html?${qs}`);
  await page.evaluate(() => window.xrayHarness.ready);
}

export async function chooseFiles(page: Page, paths: string[]): Promise<void> {
  await page.setInputFiles('#files', paths);
}

/** The form a paramedic fills for `patientId` (a chest PA at a fixed time), with `over` on top. */
export const captureInput = (patientId: string, over: Record<string, string> = {}) => ({
  patientId,
  capturedAt: '2026-11-27T08:15:00Z',
  bodyPart: 'CHEST',
  view: 'PA',
  ...over,
});

export async function capture(
  page: Page,
  index: number,
  input: CaptureInput,
  opts?: CaptureOptions,
): Promise<CaptureResult & { ms: number }> {
  return page.evaluate(([i, inp, o]) => window.xrayHarness.captureFromInput(i, inp, o), [index, input, opts] as const);
}

export async function captures(page: Page): Promise<CaptureSummary[]> {
  return page.evaluate(() => window.xrayHarness.list());
}

export async function captureById(page: Page, id: string): Promise<CaptureSummary | undefined> {
  return (await captures(page)).find((c) => c.id === id);
}

/**
 * Polls the queue inside the page until capture `id` matches: `status`, and when given, a
 * progress condition over (sent, total). Returns the capture as it was then.
 */
export async function waitForCapture(
  page: Page,
  id: string,
  want: { status: string; progress?: string },
  timeout = 120_000,
): Promise<CaptureSummary> {
  return page.evaluate(
    async ([cid, status, progress, ms]) => {
      const ok = progress ? new Function('sent', 'total', `return ${progress}`) : undefined;
      const deadline = Date.now() + ms;
      let last: CaptureSummary | undefined;
      while (Date.now() < deadline) {
        last = (await window.xrayHarness.list()).find((c) => c.id === cid);
        if (last?.status === status && (!ok || (last.progress && ok(last.progress.sent, last.progress.total) === true)))
          return last;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(
        `capture ${cid} is not ${status}${progress ? ` with ${progress}` : ''} after ${ms} ms: ${JSON.stringify(last)}`,
      );
    },
    [id, want.status, want.progress ?? '', timeout] as const,
  );
}

export const waitForStatus = (page: Page, id: string, status: string, timeout?: number): Promise<CaptureSummary> =>
  waitForCapture(page, id, { status }, timeout);

/** Reads one sample of the server's Prometheus metrics. */
export async function metric(stack: StackInfo, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${stack.metricsUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

export const tusBodyBytes = (stack: StackInfo): Promise<number> =>
  metric(stack, 'xray_tus_request_bytes_total', 'method="body"');

/** sha256 of GET /xrays/{id}/download, as a doctor. */
export async function downloadSha256(stack: StackInfo, id: string): Promise<string> {
  const res = await fetch(`${stack.url}/xrays/${id}/download`, {
    headers: { Authorization: `Bearer ${stack.tokens.doctor}` },
  });
  if (!res.ok || !res.body) throw new Error(`download ${id}: ${res.status} ${await res.text()}`);
  const hash = createHash('sha256');
  const reader = res.body.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) hash.update(r.value);
  return hash.digest('hex');
}

/** The X-rays the server lists for a patient (doctor's view). */
export async function serverXrays(stack: StackInfo, patientId: string): Promise<{ id: string; sha256: string }[]> {
  const res = await fetch(`${stack.url}/xrays?patientId=${encodeURIComponent(patientId)}&limit=200`, {
    headers: { Authorization: `Bearer ${stack.tokens.doctor}` },
  });
  if (!res.ok) throw new Error(`list: ${res.status} ${await res.text()}`);
  const body: unknown = await res.json();
  const items: unknown = typeof body === 'object' && body !== null ? Reflect.get(body, 'items') : undefined;
  if (!Array.isArray(items)) throw new Error('list without items');
  return items.map((x: unknown) => ({
    id: String(Reflect.get(Object(x), 'id')),
    sha256: String(Reflect.get(Object(x), 'sha256')),
  }));
}

export const readOriginal = async (path: string): Promise<Uint8Array> => new Uint8Array(await readFile(path));

/**
 * Everything IndexedDB holds for this origin, read through the page with the raw IndexedDB API
 * (not the app's code): every database, store and record; Blobs and byte arrays as bytes, every
 * other value as its JSON. CryptoKeys are reported by kind (non-extractable: no bytes to read).
 */
export async function dumpIndexedDb(page: Page): Promise<{ label: string; bytes: Buffer }[]> {
  const dumped = await page.evaluate(async () => {
    const out: { label: string; base64: string }[] = [];
    const toBase64 = async (blob: Blob): Promise<string> => {
      const url = await new Promise<string>((resolve, reject) => {
        const reader = new FileReader();
        reader.onload = () => resolve(String(reader.result));
        reader.onerror = () => reject(reader.error);
        reader.readAsDataURL(blob);
      });
      return url.slice(url.indexOf(',') + 1);
    };
    const walk = async (value: unknown, label: string, texts: string[]): Promise<void> => {
      if (value instanceof Blob) out.push({ label, base64: await toBase64(value) });
      else if (ArrayBuffer.isView(value)) {
        const copy = new Uint8Array(value.byteLength);
        copy.set(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
        out.push({ label, base64: await toBase64(new Blob([copy])) });
      } else if (value instanceof ArrayBuffer) out.push({ label, base64: await toBase64(new Blob([value])) });
      else if (value instanceof CryptoKey)
        texts.push(`${label}: CryptoKey ${value.algorithm.name} extractable=${value.extractable}`);
      else if (Array.isArray(value)) for (const [i, v] of value.entries()) await walk(v, `${label}[${i}]`, texts);
      else if (typeof value === 'object' && value !== null)
        for (const [k, v] of Object.entries(value)) await walk(v, `${label}.${k}`, texts);
      else texts.push(`${label}=${JSON.stringify(value)}`);
    };
    const request = <T>(r: IDBRequest<T>): Promise<T> =>
      new Promise((resolve, reject) => {
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
    for (const info of await indexedDB.databases()) {
      if (!info.name) continue;
      const db = await request(indexedDB.open(info.name));
      for (const store of Array.from(db.objectStoreNames)) {
        const tx = db.transaction(store, 'readonly');
        const records = await request(tx.objectStore(store).getAll());
        const texts: string[] = [];
        for (const [i, record] of records.entries()) await walk(record, `${info.name}/${store}[${i}]`, texts);
        out.push({
          label: `${info.name}/${store} (fields)`,
          base64: btoa(unescape(encodeURIComponent(texts.join('\n')))),
        });
      }
      db.close();
    }
    return out;
  });
  return dumped.map((d) => ({ label: d.label, bytes: Buffer.from(d.base64, 'base64') }));
}
