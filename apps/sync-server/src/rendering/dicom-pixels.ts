import { createRequire } from 'node:module';
import dcmjsCodecs from 'dcmjs-codecs';
import { DomainError } from '../errors.ts';
import type { GrayscaleTransform, LutTable, StoredSamples, Voi, VoiFunction } from './voi-lut.ts';
import { toDisplay, VOI_FUNCTIONS } from './voi-lut.ts';

/**
 * A DICOM Part 10 file's first frame as display pixels. Parsing (dcmjs, through dcmjs-codecs'
 * Transcoder) and decompression (dcmjs-codecs' WebAssembly build of libjpeg-turbo, CharLS,
 * OpenJPEG and its RLE codec) are the dcmjs family's; what the pixels mean on screen is
 * voi-lut.ts.
 */

const { NativeCodecs, Context, Transcoder, log } = dcmjsCodecs;
// The codecs log every frame they decode; failures reach us as exceptions.
log.setLevel('silent');

const require = createRequire(import.meta.url);
/** The module's WebAssembly, resolved from the package (a bundled server cannot rely on __dirname). */
const WASM = require.resolve('dcmjs-codecs/build/dcmjs-native-codecs.wasm');
// The dcmjs the codecs parse with (their own CommonJS copy) reports each VR it had to guess (an
// implicit VR Pixel Data is "OB or OW") on the console: harmless, and our logs are JSON lines.
(
  createRequire(require.resolve('dcmjs-codecs'))('dcmjs') as {
    log?: { getLogger?: (name: string) => { setLevel(level: string): void } };
  }
).log
  ?.getLogger?.('validation.dcmjs')
  .setLevel('silent');
let initialized: Promise<void> | undefined;
const initialize = (): Promise<void> =>
  (initialized ??= NativeCodecs.initializeAsync({ webAssemblyModulePathOrUrl: WASM }).catch((err: unknown) => {
    initialized = undefined;
    throw err;
  }));

const TS = {
  implicitLittle: '1.2.840.10008.1.2',
  explicitLittle: '1.2.840.10008.1.2.1',
  deflated: '1.2.840.10008.1.2.1.99',
  explicitBig: '1.2.840.10008.1.2.2',
} as const;

type Decoder = 'jpeg' | 'jpegLs' | 'jpeg2000' | 'htJpeg2000' | 'rle';
/** Compressed transfer syntaxes and the codec that opens them. */
const DECODERS: Record<string, Decoder> = {
  '1.2.840.10008.1.2.4.50': 'jpeg', // baseline (process 1)
  '1.2.840.10008.1.2.4.51': 'jpeg', // extended (processes 2 & 4), 12-bit lossy
  '1.2.840.10008.1.2.4.57': 'jpeg', // lossless (process 14)
  '1.2.840.10008.1.2.4.70': 'jpeg', // lossless, first-order prediction (SV1): dcmcjpeg's default
  '1.2.840.10008.1.2.4.80': 'jpegLs',
  '1.2.840.10008.1.2.4.81': 'jpegLs',
  '1.2.840.10008.1.2.4.90': 'jpeg2000',
  '1.2.840.10008.1.2.4.91': 'jpeg2000',
  '1.2.840.10008.1.2.4.201': 'htJpeg2000',
  '1.2.840.10008.1.2.4.202': 'htJpeg2000',
  '1.2.840.10008.1.2.4.203': 'htJpeg2000',
  '1.2.840.10008.1.2.5': 'rle',
};

export interface RenderLimits {
  /** Rows × Columns above this are refused before anything is decoded (a decompression bomb). */
  maxPixels: number;
}

/** Display pixels, 8 bits per sample: 1 channel (grayscale) or 3 (RGB, interleaved). */
export interface DisplayImage {
  width: number;
  height: number;
  channels: 1 | 3;
  pixels: Uint8Array;
}

const notRenderable = (why: string, cause?: unknown): DomainError =>
  new DomainError('not_renderable', `This X-ray cannot be rendered: ${why}.`, undefined, { cause });

type Elements = Record<string, unknown>;

/**
 * The bytes as an ArrayBuffer of their own, for dcmjs: the very buffer when they fill it (a whole
 * X-ray read into one allocation), else a copy. A large file is not copied once more than needed.
 */
const ownArrayBuffer = (bytes: Uint8Array): ArrayBuffer =>
  bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
    ? bytes.buffer
    : (bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);

const num = (e: Elements, key: string): number | undefined => {
  const v = e[key];
  const first = Array.isArray(v) ? (v as unknown[])[0] : v;
  const n = typeof first === 'string' ? Number(first) : first;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
};
const str = (e: Elements, key: string): string | undefined => {
  const v = e[key];
  const first = Array.isArray(v) ? (v as unknown[])[0] : v;
  return typeof first === 'string' ? first.trim() : undefined;
};
const items = (e: Elements, key: string): Elements[] => {
  const v = e[key];
  const list = Array.isArray(v) ? v : v && typeof v === 'object' ? [v] : [];
  return list.filter((i): i is Elements => !!i && typeof i === 'object' && !(i instanceof ArrayBuffer));
};

/** LUT Descriptor + LUT Data of a Modality or VOI LUT Sequence item (C.11.1.1.1, C.11.2.1.1). */
function lutOf(item: Elements, signedInput: boolean): LutTable | undefined {
  const desc = item.LUTDescriptor;
  if (!Array.isArray(desc) || desc.length < 3) return undefined;
  const [n0, first0, bits] = desc.map(Number) as [number, number, number];
  const entries = n0 === 0 ? 65536 : n0;
  // The first value mapped is US or SS as the pixel data is unsigned or signed.
  const firstMapped = signedInput && first0 >= 32768 ? first0 - 65536 : first0;
  const raw = item.LUTData;
  let data: ArrayLike<number> | undefined;
  if (Array.isArray(raw) && raw.length > 0 && raw[0] instanceof ArrayBuffer) data = new Uint16Array(raw[0]);
  else if (Array.isArray(raw)) data = raw.map(Number);
  else if (raw instanceof ArrayBuffer) data = new Uint16Array(raw);
  if (!data || data.length === 0 || !(bits >= 1 && bits <= 16)) return undefined;
  return { firstMapped, bits, data: data.length > entries ? Array.from(data).slice(0, entries) : data };
}

/**
 * Rescale Slope and Intercept come as a pair (PS3.3 C.11.1: both Type 1C); one without the other is
 * ignored, as dcmtk and Orthanc ignore it.
 */
function rescaleOf(e: Elements): GrayscaleTransform['modality'] {
  const slope = num(e, 'RescaleSlope');
  const intercept = num(e, 'RescaleIntercept');
  return slope !== undefined && intercept !== undefined && slope !== 0
    ? { kind: 'rescale', slope, intercept }
    : { kind: 'rescale', slope: 1, intercept: 0 };
}

function voiFunctionOf(e: Elements): VoiFunction {
  const f = str(e, 'VOILUTFunction')?.toUpperCase();
  return (VOI_FUNCTIONS as readonly string[]).includes(f ?? '') ? (f as VoiFunction) : 'LINEAR';
}

/**
 * The file's own VOI: its first window (C.11.2.1.2), else its first VOI LUT Sequence item, else the
 * full range of its values. The first window is the one the modality meant as the default (PS3.3 C.11.2.1.2).
 */
export function fileVoi(e: Elements, signed: boolean): Voi {
  const center = num(e, 'WindowCenter');
  const width = num(e, 'WindowWidth');
  if (center !== undefined && width !== undefined && width > 0)
    return { kind: 'window', window: { center, width, function: voiFunctionOf(e) } };
  const lut = items(e, 'VOILUTSequence')
    .map((i) => lutOf(i, signed))
    .find(Boolean);
  return lut ? { kind: 'lut', lut } : { kind: 'range' };
}

/** JPEG SOF markers (ITU T.81 B.1.1.3, not DHT C4, JPG C8, DAC CC) and JPEG-LS SOF55 (F7). */
const SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf, 0xf7]);

/**
 * The frame size the compressed stream itself declares (JPEG and JPEG-LS: the SOF segment; JPEG
 * 2000: the SIZ segment), or undefined when it has none where it must be. Checked against Rows ×
 * Columns before decoding: the decoder allocates what the stream says, so a small file declaring
 * a huge image would otherwise take gigabytes past RENDER_MAX_PIXELS. RLE's size is Rows × Columns.
 */
export function declaredFrameSize(codec: Decoder, s: Uint8Array): { width: number; height: number } | undefined {
  const u16 = (i: number) => ((s[i] ?? 0) << 8) | (s[i + 1] ?? 0);
  const u32 = (i: number) => u16(i) * 65536 + u16(i + 2);
  if (codec === 'jpeg' || codec === 'jpegLs') {
    if (u16(0) !== 0xffd8) return undefined;
    let i = 2;
    while (i + 4 <= s.length) {
      if (s[i] !== 0xff) return undefined;
      const marker = s[i + 1] ?? 0;
      if (marker === 0xff) {
        i++; // fill byte
        continue;
      }
      if (SOF.has(marker)) return i + 9 <= s.length ? { height: u16(i + 5), width: u16(i + 7) } : undefined;
      if (marker === 0xda || marker === 0xd9) return undefined; // scan or end before any frame header
      i += (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01 ? 2 : 2 + u16(i + 2);
    }
    return undefined;
  }
  if (codec === 'jpeg2000' || codec === 'htJpeg2000') {
    // A raw codestream (PS3.5 A.4.4); a JP2 wrapper is searched for its codestream's SOC + SIZ.
    let at = -1;
    for (let i = 0; i + 4 <= Math.min(s.length, 64 * 1024); i++)
      if (u16(i) === 0xff4f && u16(i + 2) === 0xff51) {
        at = i + 2;
        break;
      }
    // SIZ: marker, Lsiz, Rsiz, then Xsiz, Ysiz, XOsiz, YOsiz (ISO 15444-1 A.5.1).
    if (at < 0 || at + 22 > s.length) return undefined;
    return { width: u32(at + 6) - u32(at + 14), height: u32(at + 10) - u32(at + 18) };
  }
  return undefined;
}

async function decodeFrame(codec: Decoder, e: Elements, encoded: Uint8Array): Promise<Uint8Array> {
  if (codec !== 'rle') {
    const size = declaredFrameSize(codec, encoded);
    const rows = num(e, 'Rows');
    const columns = num(e, 'Columns');
    if (!size) throw notRenderable('its compressed frame has no readable frame header');
    if (size.width !== columns || size.height !== rows)
      throw notRenderable(
        `its compressed frame is ${size.width} × ${size.height} pixels, but Rows × Columns say ${columns} × ${rows}`,
      );
  }
  await initialize();
  const context = new Context({
    width: num(e, 'Columns'),
    height: num(e, 'Rows'),
    bitsAllocated: num(e, 'BitsAllocated'),
    bitsStored: num(e, 'BitsStored'),
    samplesPerPixel: num(e, 'SamplesPerPixel') ?? 1,
    pixelRepresentation: num(e, 'PixelRepresentation') ?? 0,
    planarConfiguration: num(e, 'PlanarConfiguration') ?? 0,
    photometricInterpretation: str(e, 'PhotometricInterpretation'),
    encodedBuffer: encoded,
  });
  let decoded: InstanceType<typeof Context>;
  try {
    if (codec === 'jpeg') decoded = NativeCodecs.decodeJpeg(context, { convertColorspaceToRgb: true });
    else if (codec === 'jpegLs') decoded = NativeCodecs.decodeJpegLs(context);
    else if (codec === 'jpeg2000') decoded = NativeCodecs.decodeJpeg2000(context);
    else if (codec === 'htJpeg2000') decoded = NativeCodecs.decodeHtJpeg2000(context);
    else decoded = NativeCodecs.decodeRle(context);
  } catch (err) {
    throw notRenderable('its compressed pixel data does not decode', err);
  }
  const out = decoded.getDecodedBuffer();
  if (!out) throw notRenderable('its compressed pixel data does not decode');
  // The view points into the WebAssembly heap, which the next decode reuses: copied out.
  return new Uint8Array(out);
}

/** The first frame of `file` (a DICOM Part 10 file), with the file's own window unless `voi` is given. */
export async function renderDicomFrame(file: Uint8Array, limits: RenderLimits, voi?: Voi): Promise<DisplayImage> {
  let parsed: InstanceType<typeof Transcoder>;
  try {
    parsed = new Transcoder(ownArrayBuffer(file));
  } catch (err) {
    throw notRenderable('it does not parse as DICOM', err);
  }
  const e = parsed.getElements();
  const ts = parsed.getTransferSyntaxUid();
  const width = num(e, 'Columns') ?? 0;
  const height = num(e, 'Rows') ?? 0;
  const bitsAllocated = num(e, 'BitsAllocated') ?? 0;
  const bitsStored = num(e, 'BitsStored') ?? bitsAllocated;
  const highBit = num(e, 'HighBit') ?? bitsStored - 1;
  const samplesPerPixel = num(e, 'SamplesPerPixel') ?? 1;
  const signed = num(e, 'PixelRepresentation') === 1;
  const photometric = str(e, 'PhotometricInterpretation')?.toUpperCase() ?? '';
  const frames = e.PixelData;
  if (!Array.isArray(frames) || !(frames[0] instanceof ArrayBuffer)) throw notRenderable('it holds no pixel data');
  if (width < 1 || height < 1) throw notRenderable('it has no Rows or Columns');
  if (width * height > limits.maxPixels)
    throw notRenderable(`${width} × ${height} pixels is more than the ${limits.maxPixels} this server renders`);
  if (bitsAllocated !== 8 && bitsAllocated !== 16) throw notRenderable(`BitsAllocated ${bitsAllocated} is not 8 or 16`);
  if (bitsStored < 1 || bitsStored > bitsAllocated || highBit < bitsStored - 1 || highBit >= bitsAllocated)
    throw notRenderable(`BitsStored ${bitsStored} / HighBit ${highBit} do not fit BitsAllocated ${bitsAllocated}`);

  const samples = width * height * samplesPerPixel;
  const frameBytes = samples * (bitsAllocated / 8);
  const codec = DECODERS[ts];
  let raw: Uint8Array;
  if (codec) {
    raw = await decodeFrame(codec, e, new Uint8Array(frames[0]));
  } else if (ts === TS.implicitLittle || ts === TS.explicitLittle || ts === TS.deflated || ts === TS.explicitBig) {
    // Native pixel data: one buffer holding every frame; the first is at its start.
    raw = new Uint8Array(frames[0], 0, Math.min(frameBytes, frames[0].byteLength));
    if (ts === TS.explicitBig && bitsAllocated === 16) raw = Buffer.from(raw).swap16();
  } else {
    throw notRenderable(`transfer syntax ${ts} has no decoder here`);
  }
  if (raw.byteLength < frameBytes) throw notRenderable('its pixel data is shorter than Rows × Columns');

  if (samplesPerPixel === 3) return colorImage(raw, { width, height, bitsAllocated, photometric, codec, e });
  if (samplesPerPixel !== 1) throw notRenderable(`SamplesPerPixel ${samplesPerPixel} is not 1 or 3`);
  if (photometric !== 'MONOCHROME1' && photometric !== 'MONOCHROME2')
    throw notRenderable(`photometric interpretation ${photometric || '(none)'} is not rendered`);

  const stored: StoredSamples =
    bitsAllocated === 8
      ? raw.subarray(0, samples)
      : raw.byteOffset % 2 === 0
        ? new Uint16Array(raw.buffer, raw.byteOffset, samples)
        : new Uint16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + samples * 2));
  const modalityLut = items(e, 'ModalityLUTSequence')
    .map((i) => lutOf(i, signed))
    .find(Boolean);
  const transform: GrayscaleTransform = {
    bitsStored,
    signed,
    modality: modalityLut ? { kind: 'lut', lut: modalityLut } : rescaleOf(e),
    voi: voi ?? fileVoi(e, signed),
    invert: photometric === 'MONOCHROME1',
  };
  return { width, height, channels: 1, pixels: toDisplay(stored, transform, highBit) };
}

/** RGB (or YBR_FULL, converted) at 8 bits: what a photographed or secondary-capture X-ray may be. */
function colorImage(
  raw: Uint8Array,
  o: { width: number; height: number; bitsAllocated: number; photometric: string; codec?: Decoder; e: Elements },
): DisplayImage {
  if (o.bitsAllocated !== 8) throw notRenderable('colour images are rendered at 8 bits only');
  const n = o.width * o.height;
  // The JPEG decoder interleaves and converts to RGB itself; the RLE decoder lays the samples out as
  // PlanarConfiguration says, like native pixel data.
  const planar = o.codec !== 'jpeg' && num(o.e, 'PlanarConfiguration') === 1;
  const rgb = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = raw[planar ? c * n + i : i * 3 + c] ?? 0;
  // Subsampled YBR (4:2:2, 4:2:0) comes out of the JPEG decoder only, already as RGB.
  if (o.codec !== 'jpeg' && o.photometric !== 'RGB' && o.photometric !== 'YBR_FULL')
    throw notRenderable(`photometric interpretation ${o.photometric} is not rendered`);
  if (o.codec !== 'jpeg' && o.photometric === 'YBR_FULL') {
    // PS3.3 C.7.6.3.1.2 (YBR_FULL → RGB).
    for (let i = 0; i < n * 3; i += 3) {
      const y = rgb[i] ?? 0;
      const cb = (rgb[i + 1] ?? 0) - 128;
      const cr = (rgb[i + 2] ?? 0) - 128;
      rgb[i] = clamp8(y + 1.402 * cr);
      rgb[i + 1] = clamp8(y - 0.344136 * cb - 0.714136 * cr);
      rgb[i + 2] = clamp8(y + 1.772 * cb);
    }
  }
  return { width: o.width, height: o.height, channels: 3, pixels: rgb };
}

const clamp8 = (v: number): number => Math.min(255, Math.max(0, Math.round(v)));
