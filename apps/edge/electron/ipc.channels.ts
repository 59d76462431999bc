/** The IPC channels between the Electron main process and the preload (one list, both sides). */
export const IPC = {
  loopbackStart: 'xray:loopback-start',
  loopbackComplete: 'xray:loopback-complete',
  folderCurrent: 'xray:folder-current',
  folderChoose: 'xray:folder-choose',
  folderFile: 'xray:folder-file',
} as const;
