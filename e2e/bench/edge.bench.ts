/**
 * Benchmark (not a test): prints, in Chromium against the real server stack,
 *   1. the time capture() takes (read + sha256 + XRE1 encrypt + persist in IndexedDB) for an
 *      18 MB and a 50 MB DICOM, several runs each;
 *   2. the bytes the server's tus store received per byte of payload over a full sync of the
 *      18 MB DICOM with 3 network cuts (server-side counter xray_tus_request_bytes_total{method="body"}).
 *
 *   pnpm --filter @xray/e2e run bench        (BENCH_RUNS=5 for more capture runs)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from '@playwright/test';
import config from '../playwright.config.ts';
import {
  capture,
  captureById,
  chooseFiles,
  openEdge,
  tusBodyBytes,
  waitForCapture,
  waitForStatus,
  type StackInfo,
} from '../support/edge-page.ts';
import { writeDicomOfSize, writeTestFiles } from '../support/files.ts';
import { buildEdgeTestPage, startStack } from '../support/stack.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const MB = 1_000_000;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};

async function captureTimes(
  browser: Browser,
  stack: StackInfo,
  file: { path: string; size: number },
): Promise<number[]> {
  const times: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    // A fresh profile per run (no earlier ciphertext in IndexedDB), offline so no upload competes.
    const context = await browser.newContext();
    const page = await context.newPage();
    await openEdge(page, stack);
    await context.setOffline(true);
    await chooseFiles(page, [file.path]);
    const result = await capture(page, 0, { patientId: 'P-BENCH', capturedAt: new Date().toISOString() });
    times.push(result.ms);
    await context.close();
  }
  return times;
}

async function wireRatio(browser: Browser, stack: StackInfo, file: { path: string; size: number }, cuts: number[]) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await openEdge(page, stack, { concurrency: 1 });
  await context.setOffline(true);
  await chooseFiles(page, [file.path]);
  const c = await capture(page, 0, { patientId: 'P-BENCH-WIRE', capturedAt: new Date().toISOString() });
  const ciphertextSize = (await captureById(page, c.id))?.ciphertextSize ?? 0;
  const before = await tusBodyBytes(stack);
  const started = performance.now();
  await context.setOffline(false);
  for (const fraction of cuts) {
    await waitForCapture(page, c.id, { status: 'uploading', progress: `sent >= ${fraction} * total` });
    await context.setOffline(true);
    await page.waitForTimeout(1000);
    await context.setOffline(false);
  }
  await waitForStatus(page, c.id, 'synced', 300_000);
  const seconds = (performance.now() - started) / 1000;
  const received = (await tusBodyBytes(stack)) - before;
  await context.close();
  return { plaintext: file.size, ciphertextSize, received, seconds };
}

const dir = await mkdtemp(path.join(tmpdir(), 'xray-bench-'));
buildEdgeTestPage();
const files = await writeTestFiles(dir);
const dicom50 = await writeDicomOfSize(path.join(dir, 'chest-50mb.dcm'), 50 * MB, 91);
const started = await startStack();
const stack: StackInfo = {
  url: started.url,
  metricsUrl: started.metricsUrl,
  issuer: started.issuer,
  patientServiceUrl: started.patientServiceUrl,
  doctorReceivedUrl: started.doctorReceivedUrl,
  amqp: started.amqp,
  tokens: started.tokens,
  files,
  siteDir: '',
  filesDir: dir,
};
const browser = await chromium.launch(config.use?.launchOptions ?? {});
try {
  console.log(`\nChromium ${browser.version()} · sync server ${stack.url} · ${RUNS} runs each\n`);
  console.log('capture() = read + sha256 + XRE1 encrypt + one IndexedDB transaction (strict durability)');
  console.log('| file | size | median ms | min ms | max ms | MB/s (median) |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const [name, file] of [
    ['DICOM 18 MB', files.dicom18],
    ['DICOM 50 MB', dicom50],
  ] as const) {
    const t = await captureTimes(browser, stack, file);
    const m = median(t);
    console.log(
      `| ${name} | ${(file.size / MB).toFixed(1)} MB | ${m.toFixed(0)} | ${Math.min(...t).toFixed(0)} | ${Math.max(...t).toFixed(0)} | ${(file.size / MB / (m / 1000)).toFixed(1)} |`,
    );
  }

  console.log('\nSync of the 18 MB DICOM (5 MiB chunks); body bytes the server received (server-side counter)');
  console.log(
    '| network cuts | payload (plaintext) | ciphertext | bytes received | received / plaintext | received / ciphertext | seconds |',
  );
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const cuts of [[], [0.25, 0.5, 0.75]]) {
    const r = await wireRatio(browser, stack, files.dicom18, cuts);
    console.log(
      `| ${cuts.length} | ${r.plaintext} | ${r.ciphertextSize} | ${r.received} | ${(r.received / r.plaintext).toFixed(5)} | ${(r.received / r.ciphertextSize).toFixed(5)} | ${r.seconds.toFixed(1)} |`,
    );
  }
} finally {
  await browser.close();
  await started.stop();
  await rm(dir, { recursive: true, force: true });
}
