/**
 * What the Electron preload exposes on `window.xrayShell` (contextBridge). In a plain browser it
 * is absent and the app uses the web equivalents (redirect sign-in, picker and drag-and-drop).
 */

/** RFC 8252 sign-in: the system browser, redirected back to a one-shot loopback listener. */
export interface LoopbackSignIn {
  /** Opens the loopback listener; the redirect URI to put in the authorization request. */
  start(): Promise<{ redirectUri: string }>;
  /** Opens the authorization URL in the system browser; resolves with the URL it was redirected to. */
  complete(authorizationUrl: string): Promise<string>;
}

/** A file that appeared in the detector's export folder, once it stopped growing. */
export interface WatchedFile {
  name: string;
  bytes: ArrayBuffer;
  lastModified: number;
}

export interface WatchedFolder {
  /** The folder being watched, or null. */
  current(): Promise<string | null>;
  /** Asks the user for a folder (native dialog); null when cancelled. */
  choose(): Promise<string | null>;
  /** Calls back for each new file; returns the unsubscribe function. */
  onFile(listener: (file: WatchedFile) => void): () => void;
}

export interface XrayShellApi {
  readonly kind: 'electron';
  loopbackSignIn: LoopbackSignIn;
  watchedFolder: WatchedFolder;
}

declare global {
  interface Window {
    xrayShell?: XrayShellApi;
  }
}

/** The Electron shell's API when running inside it. */
export const shellApi = (): XrayShellApi | undefined => (typeof window === 'undefined' ? undefined : window.xrayShell);
