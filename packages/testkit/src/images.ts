import { deflateSync } from 'node:zlib';
import { crc32 } from '@xray/shared';
import { encode } from 'jpeg-js';
import { hannProfile, Xoshiro128 } from './prng.ts';

/** CRC-32 as PNG chunks use it (ISO 3309): the one the shared PNG walker checks with. */
export { crc32 };

export interface ImageOptions {
  /** Default 256. */
  width?: number;
  /** Default 256. */
  height?: number;
  /** Different seeds give different pixels (and bytes); the same options give the same bytes. */
  seed?: number;
}

export interface JpegOptions extends ImageOptions {
  /** 1..100, default 90. */
  quality?: number;
}

/** 8-bit grayscale pixels: a smooth bright field plus noise, row by row. */
function grayscalePixels(kind: string, options: ImageOptions): { width: number; height: number; pixels: Uint8Array } {
  const width = options.width ?? 256;
  const height = options.height ?? 256;
  for (const [name, value] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > 0xffff) {
      throw new RangeError(`${name} must be an integer from 1 to 65535, got ${value}`);
    }
  }
  const random = new Xoshiro128(`${kind} ${width}x${height} seed ${options.seed ?? 1}`);
  const rowProfile = hannProfile(height);
  const columnProfile = hannProfile(width);
  const pixels = new Uint8Array(width * height);
  let offset = 0;
  for (let y = 0; y < height; y++) {
    const rowWeight = 160 * (rowProfile[y] ?? 0);
    for (let x = 0; x < width; x++) {
      pixels[offset++] = 32 + ((rowWeight * (columnProfile[x] ?? 0)) | 0) + (random.next() >>> 26);
    }
  }
  return { width, height, pixels };
}

/** A valid 8-bit grayscale PNG (IHDR, one IDAT, IEND). */
export function makePng(options: ImageOptions = {}): Buffer {
  const { width, height, pixels } = grayscalePixels('png', options);
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width + 1)] = 0; // filter type None
    raw.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // colour type: grayscale
  ihdr[10] = 0; // compression
  ihdr[11] = 0; // filter
  ihdr[12] = 0; // no interlace
  return Buffer.concat([
    PNG_SIGNATURE,
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A valid baseline JPEG of a grayscale picture (encoded as YCbCr by jpeg-js). */
export function makeJpeg(options: JpegOptions = {}): Buffer {
  const { width, height, pixels } = grayscalePixels('jpeg', options);
  const rgba = Buffer.alloc(width * height * 4);
  for (let i = 0; i < pixels.length; i++) {
    const gray = pixels[i] ?? 0;
    rgba[i * 4] = gray;
    rgba[i * 4 + 1] = gray;
    rgba[i * 4 + 2] = gray;
    rgba[i * 4 + 3] = 0xff;
  }
  return encode({ data: rgba, width, height }, options.quality ?? 90).data;
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length, 0);
  const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData), 0);
  return Buffer.concat([length, typeAndData, crc]);
}
