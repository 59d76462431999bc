/** The IPC channels between the Electron main process and the preload (one list, both sides). */
export const IPC = {
  loopbackStart: 'xray:loopback-start',
  loopbackComplete: 'xray:loopback-complete',
  folderCurrent: 'xray:folder-current',
  folderChoose: 'xray:folder-choose',
  folderFile: 'xray:folder-file',
  /** The DICOM receiver: its settings; the app handles instances (or stops); main → app: an instance; app → main: queued or not. */
  dicomCurrent: 'xray:dicom-current',
  dicomReady: 'xray:dicom-ready',
  dicomInstance: 'xray:dicom-instance',
  dicomQueued: 'xray:dicom-queued',
  keyringProtect: 'xray:keyring-protect',
  keyringUnprotect: 'xray:keyring-unprotect',
} as const;
