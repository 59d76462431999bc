import {
  fieldErrors,
  JSON_UPLOAD_METADATA_FIELDS,
  UPLOAD_KEY_FIELDS,
  XRAY_UPLOAD_METADATA_FIELDS,
  XrayMetadataInputSchema,
  type XrayMetadataInput,
} from '@xray/shared';
import { DomainError } from '../errors.ts';

/** The tus door needs what POST /xrays makes optional: the client's X-ray id and the plaintext hash. */
const TusMetadataSchema = XrayMetadataInputSchema.required({ id: true, sha256: true });

export type TusXrayMetadata = XrayMetadataInput & { id: string; sha256: string };

/**
 * Upload-Metadata values are strings (or null for a key without value). Only the X-ray fields
 * are read; other keys (filename, the wrapped data key) belong to other layers.
 */
export function parseTusMetadata(raw: Record<string, string | null> | undefined): TusXrayMetadata {
  const picked: Record<string, unknown> = {};
  for (const key of XRAY_UPLOAD_METADATA_FIELDS) {
    const v = raw?.[key];
    if (typeof v === 'string' && v !== '') picked[key] = JSON_UPLOAD_METADATA_FIELDS.includes(key) ? jsonOrText(v) : v;
  }
  const parsed = TusMetadataSchema.safeParse(picked);
  if (!parsed.success) {
    throw new DomainError(
      'validation_failed',
      'Upload-Metadata has invalid X-ray fields.',
      fieldErrors(parsed.error, 'metadata'),
    );
  }
  return parsed.data;
}

/** An object field's JSON text, parsed; text that is not JSON stays text (and the schema refuses it by name). */
function jsonOrText(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/** The data key travels with the upload, wrapped for our upload key (`kid`), base64 in `dek`. */
export function parseUploadedDek(raw: Record<string, string | null> | undefined): { wrapped: Uint8Array; kid: string } {
  const dek = raw?.[UPLOAD_KEY_FIELDS.wrappedDek] ?? '';
  const kid = raw?.[UPLOAD_KEY_FIELDS.kid] ?? '';
  const errors = [
    ...(/^[A-Za-z0-9+/]+={0,2}$/.test(dek)
      ? []
      : [{ field: 'metadata.dek', message: 'is required: the data key wrapped for /keys/upload, base64' }]),
    ...(kid ? [] : [{ field: 'metadata.kid', message: 'is required: the kid of the upload key used' }]),
  ];
  if (errors.length) throw new DomainError('validation_failed', 'Upload-Metadata lacks the wrapped data key.', errors);
  return { wrapped: new Uint8Array(Buffer.from(dek, 'base64')), kid };
}
