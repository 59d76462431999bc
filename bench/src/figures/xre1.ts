import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { encryptBytes, generateDek } from '@xray/shared';
import { chromiumLaunchOptions } from '@xray/testkit';
import { Xre1Verifier } from '../../../apps/sync-server/src/xre1/xre1.verifier.ts';
import { measureXre1, type Xre1Run } from '../browser/xre1.measure.ts';
import { mbPerS } from '../lib/stats.ts';
import type { BenchContext } from './context.ts';

/** The same measurement in Chromium: a loopback page (a secure context, so WebCrypto works). */
async function inChromium(file: Uint8Array, runs: number): Promise<{ runs: Xre1Run[]; version: string }> {
  const launch = chromiumLaunchOptions();
  // Playwright's own browser when no other is given, if it is installed.
  const own = chromium.executablePath();
  const executablePath = launch.executablePath ?? (own && existsSync(own) ? own : undefined);
  if (!executablePath) throw new Error('no Chromium (install Debian chromium or set PLAYWRIGHT_CHROMIUM)');
  const bundle = await build({
    entryPoints: [path.join(import.meta.dirname, '../browser/xre1.page.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'warning',
  });
  const script = bundle.outputFiles[0]?.contents;
  if (!script) throw new Error('esbuild produced no bundle');
  const server = createServer((req, res) => {
    if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else if (req.url === '/file') res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(file);
    else
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!doctype html><title>XRE1 bench</title><script type="module" src="/page.js"></script>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const browser = await chromium.launch({ ...launch, executablePath });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => typeof window.runXre1Bench === 'function');
    const result = await page.evaluate(({ n }) => window.runXre1Bench('/file', n), { n: runs });
    return { runs: result, version: browser.version() };
  } finally {
    await browser.close();
    server.close();
  }
}

const OPS = [
  ['xre1Encrypt', 'oneShotEncrypt', 'encrypt'],
  ['xre1Decrypt', 'oneShotDecrypt', 'decrypt'],
] as const;

function pushRows(ctx: BenchContext, runtime: string, runs: Xre1Run[]): void {
  for (const [xre1, oneShot, op] of OPS) {
    ctx.rows.push({
      id: `xre1-${runtime.toLowerCase().split(' ')[0]}-${op}`,
      figure: 'XRE1',
      label: `XRE1 ${op} (1 MiB segments, streamed), ${runtime}, 18 MB`,
      unit: 'MB/s',
      ours: runs.map((r) => r[xre1]),
      raw: runs.map((r) => r[oneShot]),
      ratios: true,
      note: 'raw column: one-shot AES-256-GCM over the whole file (WebCrypto), same key, same run',
    });
  }
}

/**
 * The server's own XRE1 decryption (node:crypto per segment, as tus verification and downloads
 * run it) on the same objects, next to one-shot WebCrypto AES-GCM of the whole file in the same run.
 */
async function nodeCryptoDecrypt(
  plaintext: Uint8Array<ArrayBuffer>,
  runs: number,
): Promise<{ fast: number[]; oneShot: number[] }> {
  const fast: number[] = [];
  const oneShot: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const dek = await generateDek();
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', dek));
    const ciphertext = await encryptBytes(dek, plaintext);
    let t = performance.now();
    const verifier = new Xre1Verifier(raw);
    const out = Buffer.concat([...verifier.push(ciphertext), ...verifier.end()]);
    const fastMs = performance.now() - t;
    if (!out.equals(plaintext)) throw new Error('node:crypto XRE1 decryption differs from the plaintext');
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, dek, plaintext);
    t = performance.now();
    await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, dek, sealed);
    const oneMs = performance.now() - t;
    if (i === 0) continue; // warm-up
    fast.push(mbPerS(plaintext.length, fastMs));
    oneShot.push(mbPerS(plaintext.length, oneMs));
  }
  return { fast, oneShot };
}

/** Issue 5's benchmark: XRE1 encrypt/decrypt MB/s next to one-shot AES-GCM, in Node and in Chromium. */
export async function runXre1(ctx: BenchContext): Promise<{ chromium: string }> {
  const plaintext = new Uint8Array(ctx.files.f18.bytes);
  pushRows(ctx, `Node ${process.versions.node}`, await measureXre1(plaintext, ctx.runs));
  const server = await nodeCryptoDecrypt(plaintext, ctx.runs);
  ctx.rows.push({
    id: 'xre1-node-decrypt-nodecrypto',
    figure: 'XRE1',
    label: "XRE1 decrypt via node:crypto per segment (the server's Xre1Verifier), Node, 18 MB",
    unit: 'MB/s',
    ours: server.fast,
    raw: server.oneShot,
    ratios: true,
  });
  ctx.log('XRE1 in Node done');
  try {
    const c = await inChromium(plaintext, ctx.runs);
    pushRows(ctx, `Chromium ${c.version}`, c.runs);
    ctx.log('XRE1 in Chromium done');
    return { chromium: `Chromium ${c.version}` };
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    ctx.log(`XRE1 in Chromium not measured: ${why}`);
    return { chromium: `not measured: ${why}` };
  }
}
