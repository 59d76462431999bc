import { execFile } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { startDicomReceiver, type DicomReceiver } from '@xray/edge/shell/dicom-receiver';
import { createInstanceRelay } from '@xray/edge/shell/dicom-relay';
import { makeDicom } from '@xray/testkit';
import { banner, openApp, queueItems, tab } from '../support/app-page.ts';
import { downloadSha256, serverXrays, stackInfo } from '../support/edge-page.ts';
import { exposeLoopbackSignIn } from '../support/shell-bridge.ts';

/**
 * Detectors over DICOM (issue 18), without Electron (its binary cannot be downloaded here): Debian
 * dcmtk's `storescu` is the detector; the shell's own C-STORE receiver and its relay run in this
 * Node process, as in the main process; the app runs in Chromium against the real stack, with
 * `window.xrayShell` bridged to them (Playwright's exposeFunction/evaluate stand in for the IPC).
 * Three instances in one association are queued encrypted by the app, the detector hears
 * "success" only then, and each syncs: the server's copy has the sha256 of what was received.
 */
const stack = stackInfo();

test.use({ viewport: { width: 1280, height: 800 }, hasTouch: true });

function storescu(port: number, files: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      'storescu',
      ['-v', '-aet', 'DETECTOR_1', '-aec', 'XRAY_EDGE', '127.0.0.1', String(port), ...files],
      { encoding: 'utf8' },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, output: stdout + stderr }),
    );
  });
}

test('a detector pushes 3 images by C-STORE in one association: each is queued encrypted before "success", and syncs with equal sha256 at the server', async ({
  page,
  browser,
}) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'xray-cstore-'));
  // safeStorage's stand-in: AES-256-GCM under a key only this process holds.
  const keyringKey = randomBytes(32);
  await page.exposeFunction('__shellKeyringProtect', (b64: string) => {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', keyringKey, iv);
    const body = Buffer.concat([c.update(Buffer.from(b64, 'base64')), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64');
  });
  await page.exposeFunction('__shellKeyringUnprotect', (b64: string) => {
    const all = Buffer.from(b64, 'base64');
    const d = createDecipheriv('aes-256-gcm', keyringKey, all.subarray(0, 12));
    d.setAuthTag(all.subarray(12, 28));
    return Buffer.concat([d.update(all.subarray(28)), d.final()]).toString('base64');
  });
  const loopback = await exposeLoopbackSignIn(page, browser);

  // The main process's side: the receiver, and the relay that waits for the app's "queued".
  const relay = createInstanceRelay({
    send: (message) =>
      void page
        .evaluate(async ([b64, uid, ae]) => Reflect.get(window, '__shellDicomDeliver')(b64, uid, ae), [
          Buffer.from(message.bytes).toString('base64'),
          message.sopInstanceUid,
          message.callingAeTitle,
        ] as const)
        .then(
          () => relay.settle({ requestId: message.requestId, ok: true }),
          (err: unknown) => relay.settle({ requestId: message.requestId, ok: false, message: String(err) }),
        ),
  });
  await page.exposeFunction('__shellDicomReady', (ready: boolean) => relay.setReady(ready));
  const received: { sopInstanceUid: string; sha256: string }[] = [];
  const receiver: DicomReceiver = await startDicomReceiver({
    aeTitle: 'XRAY_EDGE',
    port: 0,
    host: '127.0.0.1',
    onInstance: async (instance) => {
      await relay.deliver(instance);
      received.push({
        sopInstanceUid: instance.sopInstanceUid,
        sha256: createHash('sha256').update(instance.bytes).digest('hex'),
      });
    },
  });
  const port = receiver.port;

  await page.addInitScript((dicomPort) => {
    const call = (name: string, ...args: unknown[]): Promise<unknown> => Reflect.get(window, name)(...args);
    const toB64 = (b: Uint8Array): string => btoa(Array.from(b, (c) => String.fromCharCode(c)).join(''));
    const fromB64 = (s: string): Uint8Array => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
    let handler:
      ((i: { bytes: ArrayBuffer; sopInstanceUid: string; callingAeTitle: string }) => Promise<void>) | undefined;
    Reflect.set(window, '__shellDicomDeliver', async (b64: string, sopInstanceUid: string, callingAeTitle: string) => {
      if (!handler) throw new Error('no handler');
      await handler({ bytes: fromB64(b64).buffer as ArrayBuffer, sopInstanceUid, callingAeTitle });
    });
    Reflect.set(window, 'xrayShell', {
      kind: 'electron',
      keyring: {
        protect: async (secret: Uint8Array) => fromB64(String(await call('__shellKeyringProtect', toB64(secret)))),
        unprotect: async (stored: Uint8Array) => fromB64(String(await call('__shellKeyringUnprotect', toB64(stored)))),
      },
      loopbackSignIn: {
        start: async () => ({ redirectUri: String(await call('__shellLoopbackStart')) }),
        complete: async (url: string) => String(await call('__shellLoopbackComplete', url)),
      },
      watchedFolder: { current: async () => null, choose: async () => null, onFile: () => () => undefined },
      dicomReceiver: {
        current: async () => ({ aeTitle: 'XRAY_EDGE', port: dicomPort, allowedCallers: [] }),
        onInstance: (h: typeof handler) => {
          handler = h;
          void call('__shellDicomReady', true);
          return () => {
            handler = undefined;
            void call('__shellDicomReady', false);
          };
        },
      },
    });
  }, port);

  try {
    await openApp(page, stack);
    await page.getByRole('main').getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(banner(page)).toContainText('Signed in as Pat Paramedic');
    // The roster arrives after the sign-in: the data set's patient is checked against it.
    await expect
      .poll(
        () =>
          page.evaluate(
            () =>
              new Promise<boolean>((resolve) => {
                const req = indexedDB.open('xray-edge');
                req.onsuccess = () => {
                  const get = req.result.transaction('settings').objectStore('settings').get('roster');
                  get.onsuccess = () => resolve(get.result !== undefined);
                  get.onerror = () => resolve(false);
                };
                req.onerror = () => resolve(false);
              }),
          ),
        { timeout: 30_000 },
      )
      .toBe(true);

    const originals = [1, 2, 3].map((i) =>
      makeDicom({ rows: 256, columns: 256, seed: 900 + i, patientId: 'P-1001', patientName: 'KELLER^MARIA' }),
    );
    const files = await Promise.all(
      originals.map(async (bytes, i) => {
        const p = path.join(dir, `IMG000${i + 1}`);
        await writeFile(p, bytes);
        return p;
      }),
    );
    const since = new Date().toISOString();
    const run = await storescu(port, files);
    expect(run.code, run.output).toBe(0);
    expect(run.output.match(/Requesting Association/g)).toHaveLength(1);
    expect(run.output.match(/Received Store Response \(Success\)/g)).toHaveLength(3);
    // "Success" came only after the app had queued each one.
    expect(received).toHaveLength(3);

    await tab(page, 'Queue').click();
    await expect(queueItems(page)).toHaveCount(3);
    for (const item of await queueItems(page).all())
      await expect(item).toHaveAttribute('data-status', 'synced', { timeout: 60_000 });

    // At the server: each received instance, byte for byte (sha256 of the download).
    const listed = await serverXrays(stack, 'P-1001');
    for (const r of received) {
      const x = listed.find((l) => l.sha256 === r.sha256);
      expect(x, `instance ${r.sopInstanceUid} at the server (since ${since})`).toBeDefined();
      expect(await downloadSha256(stack, x?.id ?? '')).toBe(r.sha256);
    }
  } finally {
    await receiver.close();
    await loopback.close();
    await rm(dir, { recursive: true, force: true });
  }
});
