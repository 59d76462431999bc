import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { decryptBytes, encryptBytes, importDek } from '@xray/shared';
import { build } from 'esbuild';

/**
 * XRE1 is written once (packages/shared) on WebCrypto and must behave the same in the edge's
 * Chromium and on the server's Node: the committed vectors pass in both, and each runtime
 * decrypts the other's output.
 */
interface Vector {
  name: string;
  segmentSize: number;
  plaintextLength: number;
  ciphertextSha256: string;
}
const vectorsFile = fileURLToPath(new URL('../../packages/shared/test-vectors/xre1.json', import.meta.url));
const vectors: { key: string; noncePrefix: string; vectors: Vector[] } = JSON.parse(readFileSync(vectorsFile, 'utf8'));

let server: Server;
let origin: string;
let bundle: string;

test.beforeAll(async () => {
  // The shared crypto module as one script for the page: the very source the edge app bundles.
  const out = await build({
    entryPoints: [fileURLToPath(new URL('../../packages/shared/src/crypto/index.ts', import.meta.url))],
    bundle: true,
    format: 'iife',
    globalName: 'XRE1',
    write: false,
    platform: 'browser',
  });
  bundle = out.outputFiles[0]!.text;
  // WebCrypto needs a secure context: an http://127.0.0.1 page qualifies, about:blank does not.
  server = createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>xre1</title>'),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
test.afterAll(() => new Promise<void>((r) => server.close(() => r())));

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('the committed XRE1 vectors pass in Chromium', async ({ page }) => {
  await page.goto(origin);
  await page.addScriptTag({ content: bundle });
  const results = await page.evaluate(
    async ({ key, prefix, list }) => {
      const fromHex = (h: string) => new Uint8Array(h.match(/../g)!.map((b) => parseInt(b, 16)));
      const toHex = (b: ArrayBuffer) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
      const x = (globalThis as unknown as { XRE1: typeof import('@xray/shared') }).XRE1;
      const dek = await x.importDek(fromHex(key));
      const out: { name: string; sha256: string; roundTrip: boolean }[] = [];
      for (const v of list) {
        const plain = new Uint8Array(v.plaintextLength);
        for (let i = 0; i < plain.length; i++) plain[i] = (i * 31 + 7) & 0xff;
        const cipher = await x.encryptBytes(dek, plain, { noncePrefix: fromHex(prefix), segmentSize: v.segmentSize });
        const back = await x.decryptBytes(dek, cipher);
        out.push({
          name: v.name,
          sha256: toHex(await crypto.subtle.digest('SHA-256', cipher)),
          roundTrip: back.length === plain.length && back.every((b, i) => b === plain[i]),
        });
      }
      return out;
    },
    { key: vectors.key, prefix: vectors.noncePrefix, list: vectors.vectors },
  );
  expect(results.map((r) => r.name)).toEqual(vectors.vectors.map((v) => v.name));
  for (const [i, v] of vectors.vectors.entries()) {
    expect(results[i], v.name).toEqual({ name: v.name, sha256: v.ciphertextSha256, roundTrip: true });
  }
});

test('Node and Chromium decrypt each other’s XRE1 output', async ({ page }) => {
  await page.goto(origin);
  await page.addScriptTag({ content: bundle });
  const key = randomBytes(32);
  const plain = randomBytes(3 * 1024 * 1024 + 12345);
  const dek = await importDek(key);

  // Node → Chromium
  const fromNode = await encryptBytes(dek, plain);
  const chromiumSha = await page.evaluate(
    async ({ keyHex, cipherB64 }) => {
      const x = (globalThis as unknown as { XRE1: typeof import('@xray/shared') }).XRE1;
      const k = await x.importDek(new Uint8Array(keyHex.match(/../g)!.map((b) => parseInt(b, 16))));
      const cipher = Uint8Array.from(atob(cipherB64), (c) => c.charCodeAt(0));
      const back = await x.decryptBytes(k, cipher);
      return [...new Uint8Array(await crypto.subtle.digest('SHA-256', back))]
        .map((b) => b.toString(16).padStart(2, '0'))
        .join('');
    },
    { keyHex: hex(key), cipherB64: Buffer.from(fromNode).toString('base64') },
  );
  expect(chromiumSha).toBe(createHash('sha256').update(plain).digest('hex'));

  // Chromium → Node
  const fromChromiumB64 = await page.evaluate(
    async ({ keyHex, plainB64 }) => {
      const x = (globalThis as unknown as { XRE1: typeof import('@xray/shared') }).XRE1;
      const k = await x.importDek(new Uint8Array(keyHex.match(/../g)!.map((b) => parseInt(b, 16))));
      const p = Uint8Array.from(atob(plainB64), (c) => c.charCodeAt(0));
      const cipher = await x.encryptBytes(k, p);
      let s = '';
      for (let i = 0; i < cipher.length; i += 0x8000) s += String.fromCharCode(...cipher.subarray(i, i + 0x8000));
      return btoa(s);
    },
    { keyHex: hex(key), plainB64: plain.toString('base64') },
  );
  const back = await decryptBytes(dek, new Uint8Array(Buffer.from(fromChromiumB64, 'base64')));
  expect(Buffer.from(back).equals(plain)).toBe(true);
});
