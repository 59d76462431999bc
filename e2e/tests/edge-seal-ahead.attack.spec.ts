import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { XrayListSchema } from '@xray/shared';
import { api, captureForm, captureSignedIn, openApp, queueItems, tab } from '../support/app-page.ts';
import { downloadSha256, stackInfo } from '../support/edge-page.ts';
import { writeDicomOfSize, type TestFile } from '../support/files.ts';

/**
 * Attack on sealing ahead of Save (apps/edge capture/seal-ahead.ts, commit 2337549): the app
 * hashes and encrypts the current file once its preview is drawn. A paramedic in a hurry (Save
 * before the preview, Save twice, discard, reload) on a slowed CPU; what the device stores is read
 * back with the raw IndexedDB API and decrypted in the page with its own code (not the app's):
 * every capture under its own DEK, each decrypting to its file; and through the server to a doctor.
 */
const stack = stackInfo();
const { files } = stack;

test.use({ viewport: { width: 1280, height: 800 }, hasTouch: true });

/**
 * Before the app loads: counts the whole reads of chosen files (File.arrayBuffer: the whole-file
 * path) and their streamed reads, and the 1 MiB AES-GCM segment seals (XRE1's plaintext segments).
 */
async function instrument(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = globalThis as unknown as {
      __reads: string[];
      __streams: string[];
      __segments: number;
      __stall?: Promise<void>;
      __release?: () => void;
      __stallWhole?: Promise<void>;
      __releaseWhole?: () => void;
    };
    w.__reads = [];
    w.__streams = [];
    w.__segments = 0;
    // Reads of a chosen file past its first 1 MiB (the preview's pixel rows; the head check reads
    // less) wait while a stall is on: the thumbnail is drawn when the test says so.
    const pastHead = new WeakSet<Blob>();
    const slice = Blob.prototype.slice;
    Blob.prototype.slice = function (this: Blob, start?: number, end?: number, type?: string) {
      const part = slice.call(this, start, end, type);
      if (this instanceof File && (start ?? 0) > 1024 * 1024) pastHead.add(part);
      return part;
    };
    const arrayBuffer = Blob.prototype.arrayBuffer;
    Blob.prototype.arrayBuffer = function (this: Blob) {
      if (this instanceof File) w.__reads.push(this.name);
      if (this instanceof File && w.__stallWhole) return w.__stallWhole.then(() => arrayBuffer.call(this));
      if (pastHead.has(this) && w.__stall) return w.__stall.then(() => arrayBuffer.call(this));
      return arrayBuffer.call(this);
    };
    const stream = Blob.prototype.stream;
    Blob.prototype.stream = function (this: Blob) {
      if (this instanceof File) w.__streams.push(this.name);
      return stream.call(this);
    } as typeof Blob.prototype.stream;
    const encrypt = SubtleCrypto.prototype.encrypt;
    SubtleCrypto.prototype.encrypt = function (this: SubtleCrypto, alg, key, data) {
      if (ArrayBuffer.isView(data) && data.byteLength === 1024 * 1024) w.__segments += 1;
      return encrypt.call(this, alg, key, data);
    };
  });
}

/** Holds whole reads of chosen files (hashAndEncrypt's whole-file path) until `releaseWholeReads`. */
const stallWholeReads = (page: Page) =>
  page.evaluate(() => {
    const w = globalThis as unknown as { __stallWhole?: Promise<void>; __releaseWhole?: () => void };
    w.__stallWhole = new Promise<void>((resolve) => (w.__releaseWhole = resolve));
  });
const releaseWholeReads = (page: Page) =>
  page.evaluate(() => {
    const w = globalThis as unknown as { __stallWhole?: Promise<void>; __releaseWhole?: () => void };
    w.__stallWhole = undefined;
    w.__releaseWhole?.();
  });

/** Holds the preview's reads until `releasePreview`. */
const stallPreview = (page: Page) =>
  page.evaluate(() => {
    const w = globalThis as unknown as { __stall?: Promise<void>; __release?: () => void };
    w.__stall = new Promise<void>((resolve) => (w.__release = resolve));
  });
const releasePreview = (page: Page) =>
  page.evaluate(() => {
    const w = globalThis as unknown as { __stall?: Promise<void>; __release?: () => void };
    w.__stall = undefined;
    w.__release?.();
  });

/** The wrong-patient hold (a patient not on the device's list): kept, with a reason. */
async function keep(page: Page, id: string): Promise<void> {
  await page
    .getByTestId('patient-hold')
    .getByRole('button', { name: `Keep ${id}` })
    .click();
  const why = page.getByLabel(`Why keep ${id}?`);
  if (await why.isVisible()) await why.fill('Known to the crew');
}

const probe = (page: Page) =>
  page.evaluate(() => {
    const w = globalThis as unknown as { __reads: string[]; __streams: string[]; __segments: number };
    return { reads: [...w.__reads], streams: [...w.__streams], segments: w.__segments };
  });

/** Slows the page's CPU (Chromium's DevTools throttling), so the sealing ahead is still running when Save is tapped. */
async function slowCpu(page: Page, rate: number): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate });
}

interface StoredCapture {
  id: string;
  status: string;
  recorded: string;
  /** The DEK, raw, hex: unwrapped in the page with the device's private key (no PIN set yet). */
  dek: string;
  /** sha256 of the stored XRE1 blob decrypted in the page. */
  sha256: string;
}

/**
 * The captures IndexedDB holds on a device where no PIN is set yet (its device private key is a
 * CryptoKey in `keys`), unwrapped (ECDH-ES + HKDF-SHA-256 + AES-KW, device-key.ts's construction)
 * and decrypted (XRE1, DESIGN.md) here, with the raw IndexedDB API and WebCrypto: not the app's code.
 */
async function storedCaptures(page: Page): Promise<{ captures: StoredCapture[]; blobs: number }> {
  return page.evaluate(async () => {
    const request = <T>(r: IDBRequest<T>): Promise<T> =>
      new Promise((resolve, reject) => {
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
    const db = await request(indexedDB.open('xray-edge'));
    const all = async (store: string): Promise<Record<string, unknown>[]> =>
      request(db.transaction(store, 'readonly').objectStore(store).getAll()) as Promise<Record<string, unknown>[]>;
    const hex = (b: ArrayBuffer | Uint8Array): string =>
      Array.from(b instanceof Uint8Array ? b : new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');
    const subtle = crypto.subtle;
    const keys = await all('keys');
    const privateKey = keys.find((k) => k.id === 'device-ecdh.private')?.key as CryptoKey | undefined;
    const blobs = await all('blobs');
    const out = [];
    for (const c of await all('captures')) {
      if (!privateKey) throw new Error('no device private key in keys (a PIN was set?)');
      const wrapped = c.wrappedDek as Uint8Array;
      const ephemeralRaw = wrapped.slice(0, 65);
      const ephemeral = await subtle.importKey('raw', ephemeralRaw, { name: 'ECDH', namedCurve: 'P-256' }, false, []);
      const secret = await subtle.deriveBits({ name: 'ECDH', public: ephemeral }, privateKey, 256);
      const ikm = await subtle.importKey('raw', secret, 'HKDF', false, ['deriveKey']);
      const label = new TextEncoder().encode('xray-edge device-ecdh dek wrap v1');
      const info = new Uint8Array(label.length + 65);
      info.set(label);
      info.set(ephemeralRaw, label.length);
      const kek = await subtle.deriveKey(
        { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info },
        ikm,
        { name: 'AES-KW', length: 256 },
        false,
        ['unwrapKey'],
      );
      const dek = await subtle.unwrapKey('raw', wrapped.slice(65), kek, 'AES-KW', 'AES-GCM', true, ['decrypt']);
      const blob = blobs.find((b) => b.captureId === c.id)?.ciphertext as Blob | undefined;
      if (!blob) throw new Error(`capture ${String(c.id)} has no blob`);
      const ct = new Uint8Array(await blob.arrayBuffer());
      if (new TextDecoder().decode(ct.subarray(0, 4)) !== 'XRE1') throw new Error('not XRE1');
      const h = new DataView(ct.buffer).getUint32(4);
      const headerJson = ct.subarray(8, 8 + h);
      const header = JSON.parse(new TextDecoder().decode(headerJson)) as { v: number; seg: number; np: string };
      if (header.v !== 1 || header.seg !== 1024 * 1024) throw new Error(`unexpected header ${JSON.stringify(header)}`);
      const np = Uint8Array.from(atob(header.np), (ch) => ch.charCodeAt(0));
      const parts: Uint8Array[] = [];
      const step = header.seg + 16;
      for (let offset = 8 + h, i = 0; offset < ct.length || i === 0; offset += step, i++) {
        const last = offset + step >= ct.length;
        const nonce = new Uint8Array(12);
        nonce.set(np);
        new DataView(nonce.buffer).setUint32(7, i);
        nonce[11] = last ? 1 : 0;
        const segment = ct.subarray(offset, Math.min(ct.length, offset + step));
        parts.push(
          new Uint8Array(
            await subtle.decrypt({ name: 'AES-GCM', iv: nonce, additionalData: headerJson }, dek, segment),
          ),
        );
        if (last) break;
      }
      const plaintext = new Uint8Array(await new Blob(parts as BlobPart[]).arrayBuffer());
      out.push({
        id: String(c.id),
        status: String(c.status),
        recorded: String(c.sha256),
        dek: hex(await subtle.exportKey('raw', dek)),
        sha256: hex(await subtle.digest('SHA-256', plaintext)),
      });
    }
    db.close();
    return { captures: out, blobs: blobs.length };
  });
}

/** Opens the app signed out (no roster, no PIN: captures wait for a sign-in) on the capture screen. */
async function captureSignedOut(page: Page): Promise<void> {
  await instrument(page);
  await openApp(page, stack);
  await tab(page, 'Capture').click();
}

const preview = (page: Page, name: string) => page.getByRole('img', { name: `Preview of ${name}` });
const idle = (page: Page, ms: number) => page.waitForTimeout(ms);

test('Save tapped before the preview is drawn (CPU slowed 4×): one capture of the file, and the file is read and sealed once, not a second time for the file being saved', async ({
  page,
}) => {
  await captureSignedOut(page);
  await slowCpu(page, 4);
  const f = captureForm(page);
  await stallPreview(page);
  await page.getByLabel('Choose X-ray files').setInputFiles([files.dicom18.path]);
  await expect(f.patientId).toHaveValue('P-E2E-DICOM');
  await keep(page, 'P-E2E-DICOM');
  // The paramedic knows the details already: Save before the thumbnail is there; it is drawn
  // while Save encrypts the file.
  await expect(preview(page, 'chest-18mb.dcm')).toBeHidden();
  // Save's read of the file is held until the thumbnail is drawn: the order a slow device gives.
  await stallWholeReads(page);
  await f.save.click();
  await expect(f.form.getByRole('button', { name: 'Saving…' })).toBeDisabled();
  await releasePreview(page);
  await expect(preview(page, 'chest-18mb.dcm')).toBeVisible({ timeout: 120_000 });
  await idle(page, 500);
  await releaseWholeReads(page);
  await expect(f.notice).toContainText('Saved chest-18mb.dcm (CHEST PA) for patient P-E2E-DICOM: queued to send.', {
    timeout: 120_000,
  });
  // Whatever was started meanwhile has had time to run.
  await idle(page, 5_000);

  const { captures, blobs } = await storedCaptures(page);
  expect(captures.map((c) => c.sha256)).toEqual([files.dicom18.sha256]);
  expect(captures[0]!.recorded).toBe(files.dicom18.sha256);
  expect(blobs).toBe(1);
  const seen = await probe(page);
  // Save read it whole once; a sealing ahead started for the file already being saved reads and
  // encrypts all 18 MB a second time, while Save's own encryption runs.
  expect(seen.reads.filter((n) => n === 'chest-18mb.dcm')).toHaveLength(1);
});

test('a file discarded while it is being sealed ahead: its sealing stops (it is not encrypted to the end for nothing)', async ({
  page,
}) => {
  await captureSignedOut(page);
  const f = captureForm(page);
  // The sealing's read of the file is held until the file is discarded: a slow device's order.
  await stallWholeReads(page);
  await page.getByLabel('Choose X-ray files').setInputFiles([files.dicom18.path, files.png.path]);
  await expect(preview(page, 'chest-18mb.dcm')).toBeVisible({ timeout: 120_000 });
  // Its sealing starts with the preview; the paramedic sees the wrong image and discards it.
  await expect.poll(async () => (await probe(page)).reads).toContain('chest-18mb.dcm');
  await page.getByRole('button', { name: 'Discard this file' }).click();
  await expect(page.getByTestId('current-file')).toContainText('hand.png');
  const atDiscard = (await probe(page)).segments;
  await releaseWholeReads(page);
  await f.patientId.fill('P-1001');
  await keep(page, 'P-1001');
  await f.bodyPart.selectOption('HAND');
  await f.view.selectOption('PA');
  await f.save.click();
  await expect(f.notice).toContainText('Saved hand.png (HAND PA) for patient P-1001: queued to send.', {
    timeout: 120_000,
  });
  await idle(page, 5_000);

  const { captures } = await storedCaptures(page);
  expect(captures.map((c) => c.sha256)).toEqual([files.png.sha256]);
  // The PNG is at most ceil(size / 1 MiB) full segments (sealed once); the DICOM has 17 full
  // segments. Sealed to the end after the discard, they are all there.
  const pngSegments = Math.floor(files.png.size / (1024 * 1024));
  const afterDiscard = (await probe(page)).segments - atDiscard - pngSegments;
  expect(afterDiscard, `1 MiB segments sealed after the DICOM was discarded (at discard: ${atDiscard})`).toBeLessThan(
    Math.floor(files.dicom18.size / (1024 * 1024)) - atDiscard,
  );
});

test('Save twice, and three files one after the other with CPU slowed 4×: each capture its own DEK, each decrypting to its own file, nothing of a discarded or reloaded file stored', async ({
  page,
}) => {
  await captureSignedOut(page);
  await slowCpu(page, 4);
  const f = captureForm(page);
  await page.getByLabel('Choose X-ray files').setInputFiles([files.dicom18.path, files.png.path, files.jpeg.path]);

  // DICOM: preview drawn (sealing ahead running), Save tapped twice in the same instant.
  await expect(preview(page, 'chest-18mb.dcm')).toBeVisible({ timeout: 120_000 });
  await keep(page, 'P-E2E-DICOM');
  await f.save.evaluate((button: HTMLButtonElement) => {
    button.click();
    button.click();
  });
  await expect(f.notice).toContainText('Saved chest-18mb.dcm', { timeout: 120_000 });

  // PNG: Save at once, before its preview and its sealing.
  await expect(page.getByTestId('current-file')).toContainText('hand.png');
  await f.patientId.fill('P-1001');
  await keep(page, 'P-1001');
  await f.bodyPart.selectOption('HAND');
  await f.view.selectOption('PA');
  await f.save.click();
  await expect(f.notice).toContainText('Saved hand.png', { timeout: 120_000 });

  // JPEG: its sealing ahead done, then Save (and Save again on the emptied form: refused).
  await expect(page.getByTestId('current-file')).toContainText('knee.jpg');
  await expect(preview(page, 'knee.jpg')).toBeVisible({ timeout: 120_000 });
  await idle(page, 3_000);
  await f.patientId.fill('P-1001');
  await keep(page, 'P-1001');
  await f.bodyPart.selectOption('KNEE');
  await f.view.selectOption('LAT');
  await f.save.click();
  await expect(f.notice).toContainText('Saved knee.jpg', { timeout: 120_000 });

  // Another DICOM picked and the page reloaded while it is sealed ahead: nothing of it stored.
  await page.getByLabel('Choose X-ray files').setInputFiles([files.dicom18.path]);
  await expect(preview(page, 'chest-18mb.dcm')).toBeVisible({ timeout: 120_000 });
  await page.reload();
  await expect(page.locator('body[data-ready="true"]')).toBeAttached();

  const { captures, blobs } = await storedCaptures(page);
  const count = (sha: string) => captures.filter((c) => c.sha256 === sha).length;
  // Two clicks in one task (before React disables the button) store the DICOM once.
  expect(count(files.dicom18.sha256)).toBe(1);
  expect(count(files.png.sha256)).toBe(1);
  expect(count(files.jpeg.sha256)).toBe(1);
  expect(captures.length).toBe(3);
  expect(blobs).toBe(captures.length);
  for (const c of captures) {
    expect(c.recorded).toBe(c.sha256);
    expect(c.status).toBe('queued');
  }
  expect(new Set(captures.map((c) => c.dek)).size).toBe(captures.length);
});

test.describe('large files through the server', () => {
  let dicom50: TestFile;
  let dicom70: TestFile;
  test.beforeAll(async () => {
    dicom50 = await writeDicomOfSize(path.join(stack.filesDir, 'seal-ahead-50mb.dcm'), 50_000_000, 81);
    dicom70 = await writeDicomOfSize(path.join(stack.filesDir, 'seal-ahead-70mb.dcm'), 70 * 1024 * 1024 + 4096, 82);
  });

  test('a 50 MB DICOM saved while sealed ahead on a CPU slowed 4×, and a DICOM over 64 MiB (streamed, never read whole): synced, a doctor downloads both byte for byte', async ({
    page,
    context,
  }) => {
    const since = new Date(Date.now() - 1000).toISOString();
    await instrument(page);
    const f = await captureSignedIn(page, stack);
    await context.setOffline(true);
    await slowCpu(page, 4);

    await page.getByLabel('Choose X-ray files').setInputFiles([dicom50.path, dicom70.path]);
    for (const [file, waitForSeal] of [
      [dicom50, false],
      [dicom70, true],
    ] as const) {
      const name = path.basename(file.path);
      await expect(page.getByTestId('current-file')).toContainText(name);
      await expect(preview(page, name)).toBeVisible({ timeout: 120_000 });
      if (waitForSeal) await idle(page, 10_000);
      await f.patientId.fill('P-1001');
      await keep(page, 'P-1001');
      await f.save.click();
      await expect(f.notice).toContainText(`Saved ${name} (CHEST PA) for patient P-1001: queued to send.`, {
        timeout: 180_000,
      });
    }
    const seen = await probe(page);
    // The file over 64 MiB goes the streamed way, ahead or at Save: never read whole.
    expect(seen.reads).not.toContain(path.basename(dicom70.path));
    expect(seen.streams).toContain(path.basename(dicom70.path));

    await slowCpu(page, 1);
    await context.setOffline(false);
    await tab(page, 'Queue').click();
    await expect(queueItems(page)).toHaveCount(2);
    for (const item of await queueItems(page).all())
      await expect(item).toHaveAttribute('data-status', 'synced', { timeout: 240_000 });
    const list = XrayListSchema.parse(
      await api(stack, stack.tokens.doctor, `/xrays?patientId=P-1001&from=${encodeURIComponent(since)}`),
    );
    expect(list.items.map((x) => x.sha256).sort()).toEqual([dicom50.sha256, dicom70.sha256].sort());
    for (const x of list.items) expect(await downloadSha256(stack, x.id)).toBe(x.sha256);
  });
});
