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

const asBytes = async (value: Promise<unknown>): Promise<Uint8Array> => {
  const v = await value;
  if (!(v instanceof Uint8Array)) throw new Error('unexpected answer from the shell');
  return new Uint8Array(v);
};

const api: XrayShellApi = {
  kind: 'electron',
  keyring: {
    protect: (secret) => asBytes(ipcRenderer.invoke(IPC.keyringProtect, secret)),
    unprotect: (stored) => asBytes(ipcRenderer.invoke(IPC.keyringUnprotect, stored)),
  },
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
  dicomReceiver: {
    async current() {
      const answer: unknown = await ipcRenderer.invoke(IPC.dicomCurrent);
      if (typeof answer !== 'object' || answer === null) return null;
      const aeTitle: unknown = Reflect.get(answer, 'aeTitle');
      const port: unknown = Reflect.get(answer, 'port');
      const allowed: unknown = Reflect.get(answer, 'allowedCallers');
      if (typeof aeTitle !== 'string' || typeof port !== 'number') return null;
      const allowedCallers = Array.isArray(allowed) ? allowed.filter((a): a is string => typeof a === 'string') : [];
      return { aeTitle, port, allowedCallers };
    },
    onInstance(handle) {
      const handler = (_event: unknown, message: unknown): void => {
        if (typeof message !== 'object' || message === null) return;
        const requestId: unknown = Reflect.get(message, 'requestId');
        const sopInstanceUid: unknown = Reflect.get(message, 'sopInstanceUid');
        const callingAeTitle: unknown = Reflect.get(message, 'callingAeTitle');
        const bytes = toArrayBuffer(Reflect.get(message, 'bytes'));
        if (typeof requestId !== 'string') return;
        const answer = (ok: boolean, why?: unknown): void =>
          void ipcRenderer.invoke(IPC.dicomQueued, {
            requestId,
            ok,
            ...(ok ? {} : { message: why instanceof Error ? why.message : String(why) }),
          });
        if (typeof sopInstanceUid !== 'string' || typeof callingAeTitle !== 'string' || !bytes) {
          answer(false, 'malformed instance');
          return;
        }
        handle({ bytes, sopInstanceUid, callingAeTitle }).then(
          () => answer(true),
          (err: unknown) => answer(false, err),
        );
      };
      ipcRenderer.on(IPC.dicomInstance, handler);
      void ipcRenderer.invoke(IPC.dicomReady, true);
      return () => {
        ipcRenderer.removeListener(IPC.dicomInstance, handler);
        void ipcRenderer.invoke(IPC.dicomReady, false);
      };
    },
  },
};

contextBridge.exposeInMainWorld('xrayShell', api);
