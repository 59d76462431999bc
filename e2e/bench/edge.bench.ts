/**
 * Benchmark (not a test): prints, in Chromium against the real server stack,
 *   0. the paramedic's flow through the app itself (as `npm start` serves it, signed in, offline):
 *      from the tap on "Save X-ray" to "queued to send" on screen, for an 18 MB and a 50 MB DICOM
 *      (timed in the page: the click event's time to the notice in the DOM and its next frame);
 *   1. the time capture() takes (read + sha256 + XRE1 encrypt + persist in IndexedDB) for an
 *      18 MB and a 50 MB DICOM, several runs each;
 *   2. the bytes the server's tus store received per byte of payload over a full sync of the
 *      18 MB DICOM with 3 network cuts (server-side counter xray_tus_request_bytes_total{method="body"}).
 *
 *   pnpm --filter @xray/e2e run bench        (BENCH_RUNS=5 for more runs; BENCH_ONLY=save for part 0 only;
 *                                             BENCH_PROFILE=<dir> writes a CPU profile of each Save there)
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, expect, type Browser } from '@playwright/test';
import config from '../playwright.config.ts';
import { captureForm, openApp, signInThroughIssuer, tab } from '../support/app-page.ts';
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
import { EDGE_TEST_PAGE_DIR, buildEdgeApp, buildEdgeTestPage, startStack } from '../support/stack.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ONLY_SAVE = process.env.BENCH_ONLY === 'save';
/** A directory: each timed Save also writes a Chromium CPU profile there (.cpuprofile, for DevTools). */
const PROFILE_DIR = process.env.BENCH_PROFILE;
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

interface SaveTiming {
  /** Tap on Save (the click event's time) to "queued to send" in the DOM. */
  shownMs: number;
  /** … to the frame after it (what the paramedic sees). */
  paintedMs: number;
  /** Main-thread tasks over 50 ms between the tap and the notice (the page could not respond). */
  longTasksMs: number;
  /** Before: from choosing the file to its preview drawn (checked, header read, form filled). */
  previewMs: number;
}

/**
 * The paramedic's flow in the app: a fresh profile, signed in through the dev issuer (shift PIN
 * chosen), offline (nothing to send, so no upload competes), the file chosen, its preview drawn,
 * the patient kept against the file's (as edge-app.spec.ts does), then Save, timed in the page.
 */
async function saveThroughApp(browser: Browser, stack: StackInfo, file: { path: string }): Promise<SaveTiming> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, hasTouch: true });
  const page = await context.newPage();
  try {
    await openApp(page, stack);
    await signInThroughIssuer(page, stack, 'Pat Paramedic');
    await context.setOffline(true);
    await tab(page, 'Capture').click();
    const f = captureForm(page);
    const picked = performance.now();
    await page.getByLabel('Choose X-ray files').setInputFiles([file.path]);
    await expect(page.getByTestId('preview')).not.toHaveAttribute('width', '0', { timeout: 60_000 });
    const previewMs = performance.now() - picked;
    await expect(f.patientId).toHaveValue('P-E2E-DICOM');
    await f.patientId.fill('P-1001');
    await page.getByTestId('patient-hold').getByRole('button', { name: 'Keep P-1001' }).click();
    await page.getByLabel('Why keep P-1001?').fill('Bench detector names every image P-E2E-DICOM');
    await expect(f.save).toBeEnabled();
    const timing = page.evaluate(
      () =>
        new Promise<Omit<SaveTiming, 'previewMs'>>((resolve) => {
          // Inline callbacks only: tsx would wrap named functions in a helper the page lacks.
          let clicked = Number.NaN;
          let longTasksMs = 0;
          const longTasks = new PerformanceObserver((list) => {
            for (const e of list.getEntries()) if (e.startTime >= clicked) longTasksMs += e.duration;
          });
          longTasks.observe({ type: 'longtask' });
          const tap = new AbortController();
          document.addEventListener(
            'click',
            (e) => {
              if (e.target instanceof Element && e.target.closest('button')?.textContent === 'Save X-ray')
                clicked = e.timeStamp;
            },
            { capture: true, signal: tap.signal },
          );
          const notice = new MutationObserver(() => {
            if (!document.querySelector('[data-testid="capture-notice"]')?.textContent?.includes('queued to send'))
              return;
            const shown = performance.now();
            notice.disconnect();
            tap.abort();
            requestAnimationFrame(() =>
              setTimeout(() => {
                for (const e of longTasks.takeRecords()) if (e.startTime >= clicked) longTasksMs += e.duration;
                longTasks.disconnect();
                resolve({ shownMs: shown - clicked, paintedMs: performance.now() - clicked, longTasksMs });
              }, 0),
            );
          });
          notice.observe(document.body, { childList: true, subtree: true, characterData: true });
        }),
    );
    const cdp = PROFILE_DIR ? await context.newCDPSession(page) : undefined;
    if (cdp) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
      await cdp.send('Profiler.start');
    }
    await f.save.click();
    const t = { ...(await timing), previewMs };
    if (cdp && PROFILE_DIR) {
      const { profile } = await cdp.send('Profiler.stop');
      const out = path.join(PROFILE_DIR, `save-${path.basename(file.path)}-${Date.now()}.cpuprofile`);
      await writeFile(out, JSON.stringify(profile));
      console.log(`profile: ${out}`);
    }
    await expect(f.notice).toContainText('queued to send');
    return t;
  } finally {
    await context.close();
  }
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
// The app as `npm start` serves it and the core's test page, in one site directory (as global setup).
const siteDir = path.join(dir, 'site');
buildEdgeTestPage();
await cp(EDGE_TEST_PAGE_DIR, siteDir, { recursive: true });
buildEdgeApp(path.join(dir, 'app'), 'bench');
await cp(path.join(dir, 'app'), siteDir, { recursive: true });
const files = await writeTestFiles(dir);
const dicom50 = await writeDicomOfSize(path.join(dir, 'chest-50mb.dcm'), 50 * MB, 91);
const started = await startStack({ appDir: siteDir });
const stack: StackInfo = {
  url: started.url,
  metricsUrl: started.metricsUrl,
  issuer: started.issuer,
  patientServiceUrl: started.patientServiceUrl,
  doctorReceivedUrl: started.doctorReceivedUrl,
  amqp: started.amqp,
  tokens: started.tokens,
  files,
  siteDir,
  filesDir: dir,
};
const browser = await chromium.launch(config.use?.launchOptions ?? {});
try {
  console.log(`\nChromium ${browser.version()} · sync server ${stack.url} · ${RUNS} runs each\n`);
  console.log('Save → "queued to send" through the app (signed in, offline, preview drawn before the tap)');
  console.log(
    '| file | size | median ms (DOM) | min | max | median ms (next frame) | long tasks ms (median) | before: pick → preview ms (median) |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  // Every run's figure, for `npm run bench` (bench/src/figures/edge.ts), when it asks for them.
  const saveToQueuedMs: Record<string, number[]> = {};
  for (const [name, file, mb] of [
    ['DICOM 18 MB', files.dicom18, '18'],
    ['DICOM 50 MB', dicom50, '50'],
  ] as const) {
    const t: SaveTiming[] = [];
    for (let run = 0; run < RUNS; run++) t.push(await saveThroughApp(browser, stack, file));
    const shown = t.map((x) => x.shownMs);
    saveToQueuedMs[mb] = shown;
    console.log(
      `| ${name} | ${(file.size / MB).toFixed(1)} MB | ${median(shown).toFixed(0)} | ${Math.min(...shown).toFixed(0)} | ${Math.max(...shown).toFixed(0)} | ${median(t.map((x) => x.paintedMs)).toFixed(0)} | ${median(t.map((x) => x.longTasksMs)).toFixed(0)} | ${median(t.map((x) => x.previewMs)).toFixed(0)} |`,
    );
  }

  const jsonOut = process.env.EDGE_BENCH_JSON;
  if (jsonOut) await writeFile(jsonOut, JSON.stringify({ chromium: browser.version(), saveToQueuedMs }));

  if (!ONLY_SAVE) await coreFigures();
} finally {
  await browser.close();
  await started.stop();
  await rm(dir, { recursive: true, force: true });
}

/** Parts 1 and 2: capture() through the core's test page, and the bytes on the wire. */
async function coreFigures(): Promise<void> {
  console.log('\ncapture() = read + sha256 + XRE1 encrypt + one IndexedDB transaction (strict durability)');
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
}
