import { expect, test, type Page } from '@playwright/test';
import { randomBytes } from 'node:crypto';
import { findPlaintextRun } from '@xray/testkit';
import { DICOM_PATIENT_ID } from '../support/files.ts';
import {
  CHUNK,
  capture,
  captureById,
  captureInput,
  chooseFiles,
  downloadSha256,
  dumpIndexedDb,
  openEdge,
  readOriginal,
  serverXrays,
  stackInfo,
  tusBodyBytes,
  waitForCapture,
  waitForStatus,
} from '../support/edge-page.ts';

const stack = stackInfo();
const { files } = stack;

const waitForProgress = (page: Page, id: string, condition: string) =>
  waitForCapture(page, id, { status: 'uploading', progress: condition });

test('the plaintext scanner finds any planted 64-byte run', () => {
  const RUN = 64;
  const original = new Uint8Array(randomBytes(200_000));
  for (const start of [0, 1, 31, 32, 63, 12_345, original.length - RUN]) {
    const hay = new Uint8Array(randomBytes(5_000));
    hay.set(original.subarray(start, start + RUN), 777);
    expect(findPlaintextRun(hay, original, RUN), `run at ${start}`).not.toBe(-1);
  }
  expect(findPlaintextRun(new Uint8Array(randomBytes(2_000_000)), original, RUN)).toBe(-1);
});

test('offline: 3 X-rays are captured encrypted (no 64-byte run of any file in IndexedDB); online they all sync and download equal', async ({
  page,
  context,
}) => {
  const patient = 'P-E2E-OFFLINE';
  await openEdge(page, stack);
  await context.setOffline(true);
  await chooseFiles(page, [files.dicom18.path, files.png.path, files.jpeg.path]);
  const dicom = await capture(page, 0, captureInput(patient, { bodyPart: '', view: '' }));
  const png = await capture(page, 1, captureInput(patient, { view: 'AP' }), undefined);
  const jpeg = await capture(page, 2, captureInput(patient, { bodyPart: 'KNEE', view: 'LAT' }));
  // DICOM tags filled what the form left empty, and its other PatientID is flagged.
  expect(dicom.metadata.xray).toMatchObject({ bodyPart: 'CHEST', view: 'PA', patientId: patient });
  expect(dicom.warnings.map((w) => w.code)).toContain('patient_id_mismatch');
  expect([dicom.sha256, png.sha256, jpeg.sha256]).toEqual([files.dicom18.sha256, files.png.sha256, files.jpeg.sha256]);
  expect([dicom.contentType, png.contentType, jpeg.contentType]).toEqual([
    'application/dicom',
    'image/png',
    'image/jpeg',
  ]);

  // Still offline: nothing left the device, everything waits.
  expect((await page.evaluate(() => window.xrayHarness.engineStatus()))?.state).toBe('offline');
  for (const id of [dicom.id, png.id, jpeg.id]) expect((await captureById(page, id))?.status).toBe('queued');

  // Every record and blob IndexedDB holds, read back through the page: no run of any original.
  const originals = await Promise.all([files.dicom18, files.png, files.jpeg].map((f) => readOriginal(f.path)));
  const dumped = await dumpIndexedDb(page);
  const totalBytes = dumped.reduce((n, d) => n + d.bytes.length, 0);
  expect(totalBytes).toBeGreaterThan(files.dicom18.size); // the ciphertext is really there
  for (const d of dumped)
    for (const original of originals)
      expect(findPlaintextRun(d.bytes, original), `${d.label} holds plaintext`).toBe(-1);
  const fields = dumped
    .filter((d) => d.label.endsWith('(fields)'))
    .map((d) => d.bytes.toString('utf8'))
    .join('\n');
  expect(fields).not.toContain(patient);
  expect(fields).not.toContain(DICOM_PATIENT_ID);

  await context.setOffline(false);
  for (const c of [dicom, png, jpeg]) await waitForStatus(page, c.id, 'synced');
  // What an observer (liveQuery, as the UI will use) saw: it may coalesce quick steps.
  await expect
    .poll(async () => (await page.evaluate(() => window.xrayHarness.history()))[dicom.id]?.at(-1))
    .toBe('synced');
  expect((await page.evaluate(() => window.xrayHarness.history()))[dicom.id]).toEqual(
    expect.arrayContaining(['queued', 'uploading', 'synced']),
  );

  expect(await downloadSha256(stack, dicom.id)).toBe(files.dicom18.sha256);
  expect(await downloadSha256(stack, png.id)).toBe(files.png.sha256);
  expect(await downloadSha256(stack, jpeg.id)).toBe(files.jpeg.sha256);
  const onServer = await serverXrays(stack, patient);
  expect(onServer.map((x) => x.id).sort()).toEqual([dicom.id, png.id, jpeg.id].sort());
});

test('a reload in the middle of the DICOM upload resumes from the server offset (≤ one chunk re-sent)', async ({
  page,
  context,
}) => {
  const patient = 'P-E2E-RELOAD';
  await openEdge(page, stack, { concurrency: 1 });
  await context.setOffline(true);
  await chooseFiles(page, [files.dicom18.path]);
  const dicom = await capture(page, 0, captureInput(patient));
  const ciphertextSize = (await captureById(page, dicom.id))?.ciphertextSize ?? 0;
  const before = await tusBodyBytes(stack);
  await context.setOffline(false);
  // Past the first accepted chunk and into the second one.
  await waitForProgress(page, dicom.id, `sent > ${CHUNK + 1024 * 1024}`);
  await page.reload();
  await page.evaluate(() => window.xrayHarness.ready);
  await waitForStatus(page, dicom.id, 'synced');

  const received = (await tusBodyBytes(stack)) - before;
  const resent = received - ciphertextSize;
  console.log(
    `reload: ciphertext ${ciphertextSize} B, server received ${received} B, re-sent ${resent} B (chunk ${CHUNK})`,
  );
  expect(resent).toBeGreaterThanOrEqual(0);
  expect(resent).toBeLessThanOrEqual(CHUNK);
  expect(await downloadSha256(stack, dicom.id)).toBe(files.dicom18.sha256);
  expect((await serverXrays(stack, patient)).map((x) => x.id)).toEqual([dicom.id]);
});

test('a network cut during the final PATCH, then back: completes, no duplicate on the server', async ({
  page,
  context,
}) => {
  const patient = 'P-E2E-CUT';
  await openEdge(page, stack, { concurrency: 1 });
  await context.setOffline(true);
  await chooseFiles(page, [files.dicom18.path]);
  const dicom = await capture(page, 0, captureInput(patient));
  await context.setOffline(false);
  // Every byte of the last chunk is out; the server is verifying and storing it; no answer yet.
  await waitForProgress(page, dicom.id, 'sent === total');
  await context.setOffline(true);
  await expect.poll(async () => (await captureById(page, dicom.id))?.status).toBe('queued');
  await page.waitForTimeout(1500);
  await context.setOffline(false);
  await waitForStatus(page, dicom.id, 'synced');

  const history = await page.evaluate(() => window.xrayHarness.history());
  expect(history[dicom.id]?.join(' → ')).toContain('uploading → queued');
  expect(await downloadSha256(stack, dicom.id)).toBe(files.dicom18.sha256);
  expect(await serverXrays(stack, patient)).toEqual([{ id: dicom.id, sha256: files.dicom18.sha256 }]);
});

test('metadata the server refuses: needs-attention with its message while the others sync; fixed, it syncs', async ({
  page,
  context,
}) => {
  const patient = 'P-E2E-4XX';
  await openEdge(page, stack, { concurrency: 1 });
  await context.setOffline(true);
  await chooseFiles(page, [files.png.path, files.jpeg.path]);
  // Kept although the form is wrong (validate: false): the image is never lost to a form.
  const bad = await capture(
    page,
    0,
    { ...captureInput(patient, { bodyPart: 'CHEST!!' }), priority: 'urgent' },
    { validate: false },
  );
  const good = await capture(page, 1, captureInput(patient));
  await context.setOffline(false);

  const refused = await waitForStatus(page, bad.id, 'needs-attention');
  expect(refused.lastError?.status).toBeGreaterThanOrEqual(400);
  expect(refused.lastError?.status).toBeLessThan(500);
  expect(refused.lastError?.message).toMatch(/bodyPart/);
  await waitForStatus(page, good.id, 'synced');
  expect((await captureById(page, bad.id))?.status).toBe('needs-attention');

  await page.evaluate(([id]) => window.xrayHarness.updateMetadata(id, { bodyPart: 'CHEST' }), [bad.id] as const);
  await waitForStatus(page, bad.id, 'synced');
  expect(await downloadSha256(stack, bad.id)).toBe(files.png.sha256);
  expect((await serverXrays(stack, patient)).map((x) => x.id).sort()).toEqual([bad.id, good.id].sort());
});

test('a capture deleted on the server before the tablet sent it (a late retry): final, "deleted on the server", not retried', async ({
  page,
  context,
}) => {
  const patient = 'P-E2E-410';
  await openEdge(page, stack, { concurrency: 1 });
  await context.setOffline(true);
  await chooseFiles(page, [files.png.path]);
  const late = await capture(page, 0, captureInput(patient));
  // Meanwhile the same X-ray reached the server another way (say, a first attempt whose answer was
  // lost), and an admin deleted it.
  const form = new FormData();
  form.append('metadata', JSON.stringify({ id: late.id, ...captureInput(patient) }));
  form.append('file', new Blob([new Uint8Array(await readOriginal(files.png.path))]), 'late.png');
  const stored = await fetch(`${stack.url}/xrays`, {
    method: 'POST',
    body: form,
    headers: { Authorization: `Bearer ${stack.tokens.paramedic}` },
  });
  expect(stored.status).toBe(201);
  const deleted = await fetch(`${stack.url}/xrays/${late.id}`, {
    method: 'DELETE',
    headers: { Authorization: `Bearer ${stack.tokens.admin}` },
  });
  expect(deleted.status).toBe(204);

  await context.setOffline(false);
  const refused = await waitForStatus(page, late.id, 'needs-attention');
  expect(refused.lastError).toMatchObject({ status: 410, code: 'xray_deleted' });
  // Final: no further attempt (retries here are 300 ms apart), and the X-ray stays deleted.
  await page.waitForTimeout(2_000);
  expect(await captureById(page, late.id)).toMatchObject({ status: 'needs-attention', attempts: refused.attempts });
  expect(await serverXrays(stack, patient)).toEqual([]);
});
