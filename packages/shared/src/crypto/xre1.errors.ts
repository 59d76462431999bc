/** What went wrong with an XRE1 object (or a wrapped key); callers map codes, not messages. */
export type Xre1ErrorCode =
  | 'bad_magic' // not an XRE1 object
  | 'bad_header' // header length or JSON is invalid, not canonical, or an unknown version
  | 'auth_failed' // a segment (or the header it authenticates) was modified, reordered or spliced
  | 'truncated' // the object ends before its last-flagged segment
  | 'trailing_data' // bytes follow the last-flagged segment
  | 'bad_length' // a size that no XRE1 object can have
  | 'unwrap_failed'; // wrong key-encryption key or a modified wrapped key

export class Xre1Error extends Error {
  override readonly name = 'Xre1Error';
  readonly code: Xre1ErrorCode;

  constructor(code: Xre1ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
