import { expect, test } from '@playwright/test';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makePng, sha256Hex } from '@xray/testkit';
import {
  CHUNK,
  capture,
  captureById,
  captureInput,
  chooseFiles,
  downloadSha256,
  openEdge,
  stackInfo,
  tusBodyBytes,
  waitForCapture,
  waitForStatus,
} from '../support/edge-page.ts';
import { UplinkProxy } from '../support/uplink-proxy.ts';

/**
 * Issue 18 on the real stack: the page talks to the sync server through a proxy that is its
 * uplink (throttled, or holding a request), and what matters is measured at the server side.
 */
const stack = stackInfo();
const { files } = stack;
const MiB = 1024 * 1024;

let proxy: UplinkProxy;
let routineFiles: { path: string; sha256: string; size: number }[];

test.beforeAll(async () => {
  proxy = await new UplinkProxy(stack.url).start();
  // Two routine X-rays of about 2 MB each.
  routineFiles = [];
  for (const seed of [181, 182]) {
    const bytes = makePng({ seed, width: 1520, height: 1520 });
    const file = path.join(stack.filesDir, `routine-${seed}.png`);
    await writeFile(file, bytes);
    routineFiles.push({ path: file, sha256: sha256Hex(bytes), size: bytes.length });
  }
});
test.afterAll(async () => {
  await proxy.stop();
});
test.afterEach(() => {
  proxy.rate = undefined;
  proxy.hold = undefined;
});

/** When the server says the X-ray was uploaded (its own clock), as a doctor reads it. */
async function uploadedAt(id: string): Promise<number> {
  const res = await fetch(`${stack.url}/xrays/${id}`, { headers: { Authorization: `Bearer ${stack.tokens.doctor}` } });
  if (!res.ok) throw new Error(`GET /xrays/${id}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { uploadedAt?: string };
  if (!body.uploadedAt) throw new Error(`X-ray ${id} has no uploadedAt`);
  return Date.parse(body.uploadedAt);
}

test('urgent strictly first on a throttled uplink: queued offline last, its X-ray is created first at the server, every run', async ({
  page,
  context,
}) => {
  test.setTimeout(600_000);
  expect(files.dicom18.size).toBeGreaterThan(17 * MiB);
  for (const f of routineFiles) expect(f.size).toBeGreaterThan(1.9 * MiB);
  for (let run = 1; run <= 3; run++) {
    const patient = `P-E2E-URGENT-${run}`;
    // The app's default of two uploads at a time: urgent must still go alone.
    await openEdge(page, { ...stack, url: proxy.url }, { db: `xray-edge-urgent-${run}-${Date.now()}` });
    await context.setOffline(true);
    await chooseFiles(page, [routineFiles[0]!.path, routineFiles[1]!.path, files.dicom18.path]);
    const routine1 = await capture(page, 0, captureInput(patient, { view: 'AP' }));
    const routine2 = await capture(page, 1, captureInput(patient, { view: 'AP' }));
    const urgent = await capture(page, 2, { ...captureInput(patient), priority: 'urgent' });
    const from = proxy.log.length;
    proxy.rate = 2 * MiB;
    await context.setOffline(false);
    for (const c of [urgent, routine1, routine2]) await waitForStatus(page, c.id, 'synced', 240_000);
    proxy.rate = undefined;

    // At the proxy: the urgent upload was created first, and its X-ray was answered first.
    const seen = proxy.log.slice(from);
    const creations = seen.filter((r) => r.method === 'POST' && r.createsId).map((r) => r.createsId);
    expect(creations[0], `run ${run}: first upload created`).toBe(urgent.id);
    const created = seen
      .filter((r) => r.xrayId)
      .sort((a, b) => (a.answeredAt ?? 0) - (b.answeredAt ?? 0))
      .map((r) => r.xrayId);
    expect(created[0], `run ${run}: first X-ray answered`).toBe(urgent.id);
    // No routine request went out while the urgent one was sending: it had the uplink alone.
    const urgentDone = seen.find((r) => r.xrayId === urgent.id)?.answeredAt ?? 0;
    const urgentPath = proxy.uploadPathOf(urgent.id);
    expect(urgentPath).toBeTruthy();
    const routineDuring = seen.filter(
      (r) => r.method === 'PATCH' && r.path !== urgentPath && r.startedAt < urgentDone && r.bodyBytes > 0,
    );
    expect(routineDuring, `run ${run}: routine PATCHes during the urgent upload`).toEqual([]);

    // At the server, on its own clock.
    const tUrgent = await uploadedAt(urgent.id);
    const t1 = await uploadedAt(routine1.id);
    const t2 = await uploadedAt(routine2.id);
    console.log(
      `run ${run}: urgent uploaded at +0 ms, routine at +${t1 - tUrgent} ms and +${t2 - tUrgent} ms (2 MiB/s uplink)`,
    );
    expect(tUrgent).toBeLessThan(t1);
    expect(tUrgent).toBeLessThan(t2);
    expect(await downloadSha256(stack, urgent.id)).toBe(files.dicom18.sha256);
    expect(await downloadSha256(stack, routine1.id)).toBe(routineFiles[0]!.sha256);
    await page.evaluate(() => window.xrayHarness.stop());
  }
});

test('a PATCH the uplink swallows (no answer, ever) recovers by itself: stall, kept progress, resume; ≤ one chunk re-sent', async ({
  page,
  context,
}) => {
  const patient = 'P-E2E-STALL';
  const STALL_MS = 6000;
  await openEdge(
    page,
    { ...stack, url: proxy.url },
    { concurrency: 1, stallMs: STALL_MS, retryBaseMs: 2000, db: `xray-edge-stall-${Date.now()}` },
  );
  await context.setOffline(true);
  await chooseFiles(page, [files.dicom18.path]);
  const dicom = await capture(page, 0, captureInput(patient));
  const ciphertextSize = (await captureById(page, dicom.id))?.ciphertextSize ?? 0;
  const from = proxy.log.length;
  const serverBefore = await tusBodyBytes(stack);
  // The second PATCH goes out whole and nothing ever comes back.
  let patches = 0;
  proxy.hold = (req) => req.method === 'PATCH' && ++patches === 2;
  await context.setOffline(false);

  // The engine gives up on the request by itself and says so, keeping the confirmed chunk.
  const stalled = await waitForCapture(page, dicom.id, { status: 'retrying' }, 60_000);
  expect(stalled.lastError).toMatchObject({ code: 'stalled', message: expect.stringMatching(/stalled/i) });
  expect(stalled.progress).toMatchObject({ sent: CHUNK, total: ciphertextSize });
  expect(proxy.log.slice(from).some((r) => r.held)).toBe(true);

  await waitForStatus(page, dicom.id, 'synced');
  const sentByPage = proxy.patchBytes(from);
  const receivedByServer = (await tusBodyBytes(stack)) - serverBefore;
  console.log(
    `stall: ciphertext ${ciphertextSize} B, page sent ${sentByPage} B, server received ${receivedByServer} B (chunk ${CHUNK})`,
  );
  expect(sentByPage).toBeGreaterThanOrEqual(ciphertextSize);
  expect(sentByPage).toBeLessThanOrEqual(ciphertextSize + CHUNK);
  expect(receivedByServer).toBeLessThanOrEqual(ciphertextSize + CHUNK);
  expect(await downloadSha256(stack, dicom.id)).toBe(files.dicom18.sha256);
});
