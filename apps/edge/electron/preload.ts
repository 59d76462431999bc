/**
 * The preload: the only bridge between the sandboxed page and the main process. It exposes a
 * small, typed API on `window.xrayShell` (contextBridge: the page never sees ipcRenderer).
 */
import { contextBridge, ipcRenderer } from 'electron';
import type { WatchedFile, XrayShellApi } from '../src/shell/shell.api.ts';
import { IPC } from './ipc.channels.ts';

const toArrayBuffer = (bytes: unknown): ArrayBuffer | undefined => {
  if (!(bytes instanceof Uint8Array)) return undefined;
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
};

const asString = async (value: Promise<unknown>): Promise<string> => {
  const v = await value;
  if (typeof v !== 'string') throw new Error('unexpected answer from the shell');
  return v;
};

const api: XrayShellApi = {
  kind: 'electron',
  loopbackSignIn: {
    async start() {
      const answer: unknown = await ipcRenderer.invoke(IPC.loopbackStart);
      const redirectUri: unknown = typeof answer === 'object' && answer ? Reflect.get(answer, 'redirectUri') : null;
      if (typeof redirectUri !== 'string') throw new Error('the shell gave no redirect URI');
      return { redirectUri };
    },
    complete: (authorizationUrl) => asString(ipcRenderer.invoke(IPC.loopbackComplete, authorizationUrl)),
  },
  watchedFolder: {
    async current() {
      const dir: unknown = await ipcRenderer.invoke(IPC.folderCurrent);
      return typeof dir === 'string' ? dir : null;
    },
    async choose() {
      const dir: unknown = await ipcRenderer.invoke(IPC.folderChoose);
      return typeof dir === 'string' ? dir : null;
    },
    onFile(listener) {
      const handler = (_event: unknown, file: unknown): void => {
        if (typeof file !== 'object' || file === null) return;
        const name: unknown = Reflect.get(file, 'name');
        const lastModified: unknown = Reflect.get(file, 'lastModified');
        const bytes = toArrayBuffer(Reflect.get(file, 'bytes'));
        if (typeof name !== 'string' || !bytes) return;
        const watched: WatchedFile = {
          name,
          bytes,
          lastModified: typeof lastModified === 'number' ? lastModified : Date.now(),
        };
        listener(watched);
      };
      ipcRenderer.on(IPC.folderFile, handler);
      return () => ipcRenderer.removeListener(IPC.folderFile, handler);
    },
  },
};

contextBridge.exposeInMainWorld('xrayShell', api);
