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
