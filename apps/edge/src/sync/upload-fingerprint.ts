/** The tus `urlStorage` fingerprint of a capture's upload: one per capture, whatever the file was called. */
export const uploadFingerprint = (captureId: string): string => `xray-capture:${captureId}`;
