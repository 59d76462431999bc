/** The X-ray fields the server reads from tus Upload-Metadata (besides `dek` and `kid`). */
export const XRAY_UPLOAD_METADATA_FIELDS = [
  'id',
  'sha256',
  'patientId',
  'consultationId',
  'capturedAt',
  'deviceId',
  'bodyPart',
  'view',
  'priority',
  'notes',
] as const;

/** Standard base64 (with padding), as the server expects the wrapped data key. */
export function base64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}
