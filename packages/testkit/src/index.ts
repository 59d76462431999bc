export {
  DX_FOR_PRESENTATION_SOP_CLASS_UID,
  EXPLICIT_VR_LITTLE_ENDIAN,
  TESTKIT_IMPLEMENTATION_CLASS_UID,
  dicomChunks,
  dicomDimensionsForSize,
  dicomSize,
  dicomStream,
  dicomTagsFor,
  makeDicom,
  resolveDicomOptions,
  writeDicom,
} from './dicom.ts';
export type { DicomOptions, ResolvedDicomOptions, WrittenDicom } from './dicom.ts';
export { PNG_SIGNATURE, crc32, makeJpeg, makePng } from './images.ts';
export type { ImageOptions, JpegOptions } from './images.ts';
export { sha256File, sha256Hex } from './hash.ts';
export { findPlaintextRun, plaintextRunFinder } from './plaintext-runs.ts';
export { chromiumLaunchOptions } from './chromium.ts';
export { dcmtk } from './dcmtk.ts';
export { freePort } from './ports.ts';
export { parseEnvLines } from './service-env.ts';
export { documentedOperations, responseCheckFailure, summarizeResponseCheck } from './openapi-responses.ts';
export type { ResponseCheckSummary } from './openapi-responses.ts';
export { drainStream, readDownload } from './streams.ts';
