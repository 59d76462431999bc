import type { FieldError } from '@xray/shared';

export type CaptureErrorCode =
  | 'unsupported_type' // not DICOM Part 10, PNG or JPEG, whatever the file name says
  | 'invalid_metadata' // the form does not pass the X-ray metadata schema (see `fields`)
  | 'not_found' // no such capture
  | 'not_editable'; // a capture that is uploading or synced cannot be changed here

/** Why a capture was refused or cannot be changed; nothing was stored when `capture()` throws one. */
export class CaptureError extends Error {
  override readonly name = 'CaptureError';
  readonly code: CaptureErrorCode;
  readonly fields: FieldError[];

  constructor(code: CaptureErrorCode, message: string, fields: FieldError[] = [], options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.fields = fields;
  }
}
