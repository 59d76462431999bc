import type { KeyringProtector } from '../crypto/key.vault.ts';

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

/** An instance a detector pushed to the shell's DICOM receiver (C-STORE), held in memory only. */
export interface ReceivedDicomInstance {
  /** A DICOM Part 10 file: the shell's file meta group, then the data set exactly as the detector sent it. */
  bytes: ArrayBuffer;
  sopInstanceUid: string;
  /** The detector's AE title. */
  callingAeTitle: string;
}

/** The shell's DICOM C-STORE receiver as the app sees it (electron/dicom-receiver.ts). */
export interface DicomReceiverBridge {
  /** Its settings, or null when it is off (no XRAY_DICOM_PORT). */
  current(): Promise<{ aeTitle: string; port: number; allowedCallers: string[] } | null>;
  /**
   * The app's one handler for received instances: it resolves once the instance is durably
   * queued, encrypted, and only then is the detector answered "success" (a rejection: "out of
   * resources", the detector keeps the image). Returns the unsubscribe function.
   */
  onInstance(handler: (instance: ReceivedDicomInstance) => Promise<void>): () => void;
}

export interface XrayShellApi {
  readonly kind: 'electron';
  loopbackSignIn: LoopbackSignIn;
  watchedFolder: WatchedFolder;
  /** The OS keyring (safeStorage in the main process): it protects the device's keys at rest. */
  keyring: KeyringProtector;
  /** The DICOM C-STORE receiver the detectors push to (absent in shells without it). */
  dicomReceiver?: DicomReceiverBridge;
}

declare global {
  interface Window {
    xrayShell?: XrayShellApi;
  }
}

/** The Electron shell's API when running inside it. */
export const shellApi = (): XrayShellApi | undefined => (typeof window === 'undefined' ? undefined : window.xrayShell);
