export { fromBase64, toBase64 } from './bytes.ts';
export { Xre1Error, type Xre1ErrorCode } from './xre1.errors.ts';
export {
  DEFAULT_SEGMENT_SIZE,
  MAX_HEADER_LENGTH,
  MAX_SEGMENT_SIZE,
  MIN_SEGMENT_SIZE,
  NONCE_PREFIX_LENGTH,
  PREAMBLE_LENGTH,
  TAG_LENGTH,
  type ParsedHeader,
  type Xre1Header,
  ciphertextLength,
  createHeader,
  headerTotalLengthOf,
  parseHeader,
  plaintextLength,
  randomNoncePrefix,
  segmentCipherOffset,
  segmentCount,
  serializeHeader,
} from './xre1.format.ts';
export {
  type EncryptOptions,
  createDecryptStream,
  createEncryptStream,
  decryptBytes,
  encryptBytes,
} from './xre1.stream.ts';
export {
  type UnwrapOptions,
  generateDek,
  importDek,
  unwrapKeyAesKw,
  unwrapKeyRsaOaep,
  wrapKeyAesKw,
  wrapKeyRsaOaep,
} from './keys.ts';
export {
  type UploadJwk,
  type UploadJwks,
  type UploadKeyEndorsement,
  UPLOAD_KEY_ENDORSEMENT_ALGORITHM,
  UPLOAD_KEY_EXPONENT,
  UPLOAD_KEY_MIN_BITS,
  isUploadKeyStrong,
  rsaJwkThumbprint,
  rsaModulusBits,
  uploadKeyEndorsementMessage,
} from './upload-key.ts';
