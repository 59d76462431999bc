import { createEdgeCore, type EdgeCore } from '../edge.core.ts';
import type { HarnessApi } from './harness.api.ts';

/**
 * Test page: opens the core against the server that served this page, with settings from the
 * query string (chunkMiB, concurrency, retryBaseMs, retryMaxMs, retentionMs, stallMs, db). The token comes
 * from `window.__XRAY_TOKEN__` (a Playwright init script, so it survives reloads) or setToken().
 */
const params = new URLSearchParams(location.search);
const num = (name: string): number | undefined => {
  const v = params.get(name);
  return v === null ? undefined : Number(v);
};
const initial: unknown = Reflect.get(globalThis, '__XRAY_TOKEN__');
let token: string | null = typeof initial === 'string' ? initial : null;
const history: Record<string, string[]> = {};
let core: EdgeCore | undefined;

const ready = (async () => {
  const chunkMiB = num('chunkMiB');
  const retryBaseMs = num('retryBaseMs');
  const retryMaxMs = num('retryMaxMs');
  core = await createEdgeCore({
    getAccessToken: () => token,
    dbName: params.get('db') ?? undefined,
    concurrency: num('concurrency'),
    chunkSize: chunkMiB === undefined ? undefined : chunkMiB * 1024 * 1024,
    retentionMs: num('retentionMs'),
    tokenPollMs: num('tokenPollMs') ?? 500,
    stallTimeoutMs: num('stallMs'),
    retry: {
      ...(retryBaseMs !== undefined ? { baseDelayMs: retryBaseMs } : {}),
      ...(retryMaxMs !== undefined ? { maxDelayMs: retryMaxMs } : {}),
    },
    deviceId: 'harness',
  });
  core.observeCaptures((captures) => {
    for (const c of captures) {
      const seen = (history[c.id] ??= []);
      if (seen.at(-1) !== c.status) seen.push(c.status);
    }
    render(
      captures.map(
        (c) => `${c.id} ${c.status}${c.progress ? ` ${Math.round((100 * c.progress.sent) / c.progress.total)}%` : ''}`,
      ),
    );
  });
})();

function render(lines: string[]): void {
  const out = document.getElementById('queue');
  if (out) out.textContent = lines.join('\n');
}

function need(): EdgeCore {
  if (!core) throw new Error('the core is not ready yet: await xrayHarness.ready');
  return core;
}

function fileAt(index: number): File {
  const input = document.getElementById('files');
  const file = input instanceof HTMLInputElement ? input.files?.item(index) : null;
  if (!file) throw new Error(`no file ${index} in the file input`);
  return file;
}

const api: HarnessApi = {
  ready,
  setToken(value) {
    token = value;
    core?.engine.tokenChanged();
  },
  async captureFromInput(index, input, opts) {
    const file = fileAt(index);
    const started = performance.now();
    const result = await need().capture(file, input, opts);
    return { ...result, ms: performance.now() - started };
  },
  list: () => need().listCaptures(),
  engineStatus: () => need().db.engineStatus(),
  readMetadata: (id) => need().readMetadata(id),
  updateMetadata: (id, changes) => need().updateMetadata(id, changes),
  history: () => structuredClone(history),
  stop: () => need().close(),
};
window.xrayHarness = api;
