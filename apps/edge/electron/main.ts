/**
 * The Electron main process: thin on purpose. It opens one sandboxed, context-isolated window on
 * the app the sync server serves (the service worker keeps it usable offline), sets a CSP,
 * keeps the window on the app, and offers two things a web page cannot do: the system-browser
 * sign-in with a loopback redirect (RFC 8252), new files from the detector's export folder, and the
 * OS keyring (safeStorage) that protects the device's keys at rest.
 * The logic lives in plain modules beside this file, tested in Node.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, safeStorage, session, shell, type IpcMainInvokeEvent } from 'electron';
import { dicomReceiverConfigFromEnv, startDicomReceiver, type DicomReceiver } from './dicom-receiver.ts';
import { createInstanceRelay } from './dicom-relay.ts';
import { readWatchedFile, watchFolder } from './folder-watcher.ts';
import { IPC } from './ipc.channels.ts';
import { createKeyring } from './keyring.safe-storage.ts';
import { startLoopbackListener, type LoopbackListener } from './loopback-login.ts';
import { decideNavigation, isOpenableAuthorizationUrl, isTrustedSender } from './navigation.ts';
import { parseStoredShellConfig, resolveShellConfig, type ShellConfig } from './shell-config.ts';
import { BASELINE_CSP, mainWindowOptions, withContentSecurityPolicy } from './window-options.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const configFile = (): string => path.join(app.getPath('userData'), 'shell.json');

async function readStored(): Promise<Partial<ShellConfig>> {
  try {
    return parseStoredShellConfig(JSON.parse(await readFile(configFile(), 'utf8')));
  } catch {
    return {};
  }
}

async function store(config: ShellConfig): Promise<void> {
  await mkdir(path.dirname(configFile()), { recursive: true });
  await writeFile(configFile(), JSON.stringify(config, null, 2), { mode: 0o600 });
}

app.enableSandbox();
// One instance: a second launch focuses the first (two would fight over the queue).
if (!app.requestSingleInstanceLock()) app.quit();

app.on('web-contents-created', (_e, contents) => {
  contents.on('will-attach-webview', (event) => event.preventDefault());
});
app.on('window-all-closed', () => app.quit());

void app.whenReady().then(async () => {
  const resolved = resolveShellConfig(process.env, await readStored());
  if (!resolved.ok) {
    dialog.showErrorBox('X-ray capture', resolved.message);
    app.quit();
    return;
  }
  const config = resolved.config;
  const appOrigin = new URL(config.serverUrl).origin;

  // No camera, microphone, geolocation, notifications… the app asks for none.
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.defaultSession.webRequest.onHeadersReceived({ urls: [`${appOrigin}/*`] }, (details, callback) =>
    callback({ responseHeaders: withContentSecurityPolicy(details.responseHeaders, BASELINE_CSP) }),
  );

  const win = new BrowserWindow(mainWindowOptions(path.join(here, 'preload.cjs')));
  app.on('second-instance', () => (win.isMinimized() ? win.restore() : win.focus()));
  win.webContents.on('will-navigate', (event, url) => {
    const decision = decideNavigation(url, appOrigin);
    if (decision === 'allow') return;
    event.preventDefault();
    if (decision === 'open-external') void shell.openExternal(url);
  });
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (decideNavigation(url, appOrigin) === 'open-external') void shell.openExternal(url);
    return { action: 'deny' };
  });

  const trusted = (event: IpcMainInvokeEvent): void => {
    if (!isTrustedSender(event.senderFrame?.url, appOrigin)) throw new Error('IPC from an untrusted frame');
  };

  // Sign-in: the system browser and a one-shot loopback listener.
  let pending: LoopbackListener | undefined;
  ipcMain.handle(IPC.loopbackStart, async (event) => {
    trusted(event);
    await pending?.close();
    pending = await startLoopbackListener();
    return { redirectUri: pending.redirectUri };
  });
  ipcMain.handle(IPC.loopbackComplete, async (event, authorizationUrl: unknown) => {
    trusted(event);
    const listener = pending;
    if (!listener) throw new Error('No sign-in was started.');
    if (typeof authorizationUrl !== 'string' || !isOpenableAuthorizationUrl(authorizationUrl))
      throw new Error('Not a sign-in address the system browser may open.');
    await shell.openExternal(authorizationUrl);
    try {
      return await listener.callback;
    } finally {
      await listener.close();
      if (pending === listener) pending = undefined;
      win.focus();
    }
  });

  // The OS keyring for the renderer's key vault (safeStorage; Linux's plaintext fallback refused).
  const keyring = createKeyring(safeStorage);
  const bytesArg = (v: unknown): Uint8Array => {
    if (!(v instanceof Uint8Array)) throw new Error('expected bytes');
    return v;
  };
  ipcMain.handle(IPC.keyringProtect, (event, secret: unknown) => {
    trusted(event);
    return keyring.protect(bytesArg(secret));
  });
  ipcMain.handle(IPC.keyringUnprotect, (event, stored: unknown) => {
    trusted(event);
    return keyring.unprotect(bytesArg(stored));
  });

  // The detector's export folder.
  let watcher: { close(): void } | undefined;
  const startWatching = (dir: string | null): void => {
    watcher?.close();
    watcher = undefined;
    if (!dir) return;
    watcher = watchFolder({
      dir,
      onFile: (file) => {
        void readWatchedFile(dir, file.name)
          .then((bytes) => win.webContents.send(IPC.folderFile, { name: file.name, bytes, lastModified: file.mtimeMs }))
          .catch((err: unknown) => console.error('watched folder', err));
      },
      onError: (err) => console.error('watched folder', err),
    });
  };
  ipcMain.handle(IPC.folderCurrent, (event) => {
    trusted(event);
    return config.watchDir;
  });
  ipcMain.handle(IPC.folderChoose, async (event) => {
    trusted(event);
    const chosen = await dialog.showOpenDialog(win, {
      title: "Choose the detector's export folder",
      properties: ['openDirectory'],
    });
    const dir = chosen.canceled ? undefined : chosen.filePaths[0];
    if (!dir) return null;
    config.watchDir = dir;
    await store(config);
    startWatching(dir);
    return dir;
  });
  startWatching(config.watchDir);

  // Detectors pushing by DICOM C-STORE: received into memory, queued (encrypted) by the app, then answered.
  const dicom = dicomReceiverConfigFromEnv(process.env);
  if (!dicom.ok) dialog.showErrorBox('X-ray capture', dicom.message);
  const relay = createInstanceRelay({ send: (message) => win.webContents.send(IPC.dicomInstance, message) });
  win.webContents.on('did-start-loading', () => relay.setReady(false));
  ipcMain.handle(IPC.dicomCurrent, (event) => {
    trusted(event);
    const c = dicom.ok ? dicom.config : null;
    return c ? { aeTitle: c.aeTitle, port: c.port, allowedCallers: [...c.allowedCallers] } : null;
  });
  ipcMain.handle(IPC.dicomReady, (event, ready: unknown) => {
    trusted(event);
    relay.setReady(ready === true);
  });
  ipcMain.handle(IPC.dicomQueued, (event, answer: unknown) => {
    trusted(event);
    relay.settle(answer);
  });
  let receiver: DicomReceiver | undefined;
  if (dicom.ok && dicom.config) {
    receiver = await startDicomReceiver({
      ...dicom.config,
      onInstance: (instance) => relay.deliver(instance),
      // Refusals (association or instance) as warnings: the detector was told no.
      onEvent: (event) =>
        (event.type === 'association-rejected' || event.type === 'refused' ? console.warn : console.info)(
          'dicom receiver',
          event,
        ),
    }).catch((err: unknown) => {
      dialog.showErrorBox('X-ray capture', `The DICOM receiver could not start: ${String(err)}`);
      return undefined;
    });
  }
  app.on('will-quit', () => void receiver?.close());

  win.once('ready-to-show', () => win.show());
  await win.loadURL(`${config.serverUrl}/`).catch((err: unknown) => {
    dialog.showErrorBox(
      'X-ray capture',
      `The app could not be loaded from ${config.serverUrl} (${String(err)}). It needs the server once; after that it also starts offline.`,
    );
  });
});
