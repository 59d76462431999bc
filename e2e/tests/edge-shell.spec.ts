import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { readWatchedFile, watchFolder } from '@xray/edge/shell/folder-watcher';
import { makeDicom } from '@xray/testkit';
import { banner, captureForm, openApp, queueItems, tab, unlockShift } from '../support/app-page.ts';
import { stackInfo } from '../support/edge-page.ts';
import { exposeLoopbackSignIn } from '../support/shell-bridge.ts';

/**
 * What the Electron shell adds, without Electron (its binary cannot be downloaded here): the app
 * in Chromium with `window.xrayShell` bridged to the shell's own main-process modules running in
 * this Node process — the RFC 8252 loopback listener and the detector folder watcher. Only the
 * IPC transport (preload ↔ main) is replaced by Playwright's exposeFunction.
 */
const stack = stackInfo();

test.use({ viewport: { width: 1280, height: 800 }, hasTouch: true });

test('Electron hand-offs: sign-in in the system browser back through a loopback redirect; a file new in the detector folder is captured and synced', async ({
  page,
  browser,
}) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'xray-detector-'));
  const loopback = await exposeLoopbackSignIn(page, browser);
  const systemBrowserVisits = loopback.visits;
  await page.exposeFunction('__shellFolderCurrent', () => dir);
  await page.addInitScript(() => {
    const call = (name: string, ...args: unknown[]): Promise<unknown> => Reflect.get(window, name)(...args);
    const listeners = new Set<(f: { name: string; bytes: ArrayBuffer; lastModified: number }) => void>();
    Reflect.set(window, '__shellDeliver', (name: string, b64: string, lastModified: number) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
      for (const l of listeners) l({ name, bytes, lastModified });
    });
    Reflect.set(window, 'xrayShell', {
      kind: 'electron',
      loopbackSignIn: {
        start: async () => ({ redirectUri: String(await call('__shellLoopbackStart')) }),
        complete: async (url: string) => String(await call('__shellLoopbackComplete', url)),
      },
      watchedFolder: {
        current: async () => String(await call('__shellFolderCurrent')),
        choose: async () => null,
        onFile: (l: (f: { name: string; bytes: ArrayBuffer; lastModified: number }) => void) => {
          listeners.add(l);
          return () => listeners.delete(l);
        },
      },
    });
  });
  // The main process's side of the folder: the shell's watcher, files sent to the window.
  const watcher = watchFolder({
    dir,
    stableMs: 300,
    pollMs: 50,
    onFile: (file) =>
      void readWatchedFile(dir, file.name).then((bytes) =>
        page.evaluate(([name, b64, at]) => Reflect.get(window, '__shellDeliver')(name, b64, at), [
          file.name,
          bytes.toString('base64'),
          file.mtimeMs,
        ] as const),
      ),
  });
  await watcher.ready;
  try {
    await openApp(page, stack);
    await page.getByRole('main').getByRole('button', { name: 'Sign in', exact: true }).click();
    // The first sign-in starts with the shift PIN (no keyring in this stand-in shell).
    await unlockShift(page);
    await expect(banner(page)).toContainText('Signed in as Pat Paramedic');
    expect(page.url().startsWith(stack.url)).toBe(true); // the app never left its page
    const asked = new URL(systemBrowserVisits[0] ?? '');
    expect(asked.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(asked.searchParams.get('code_challenge_method')).toBe('S256');

    await tab(page, 'Capture').click();
    await expect(page.getByTestId('watched-folder')).toContainText(`Watching the detector folder ${dir}`);
    // The detector writes an export (no extension, as detectors do).
    await writeFile(
      path.join(dir, 'IMG0001'),
      makeDicom({ rows: 512, columns: 512, seed: 81, patientId: 'P-1004', patientName: 'NOVAK^PETER' }),
    );
    const f = captureForm(page);
    await expect(page.getByTestId('current-file')).toContainText('IMG0001', { timeout: 15_000 });
    await expect(f.patientId).toHaveValue('P-1004');
    await expect(page.getByRole('img', { name: 'Preview of IMG0001' })).toBeVisible();
    await f.save.click();
    await expect(f.notice).toContainText('Saved IMG0001 (CHEST PA) for patient P-1004');
    await tab(page, 'Queue').click();
    await expect(queueItems(page).first()).toHaveAttribute('data-status', 'synced', { timeout: 60_000 });
  } finally {
    watcher.close();
    await loopback.close();
    await rm(dir, { recursive: true, force: true });
  }
});
