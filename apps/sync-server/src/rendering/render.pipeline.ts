import type { Sharp } from 'sharp';
import type { Xray } from '@xray/shared';
import { DomainError } from '../errors.ts';
import type { DisplayImage, RenderLimits } from './dicom-pixels.ts';
import type { RenderParams, Viewport } from './render.params.ts';
import type { Voi } from './voi-lut.ts';

/** What turns a DICOM file into display pixels: a worker's (render.pool.ts), or this thread's. */
export type FrameRenderer = (file: Uint8Array, limits: RenderLimits, voi?: Voi) => Promise<DisplayImage>;

/**
 * sharp (libvips) and the decoders load on the first render, not at server start: together they
 * cost most of a second and tens of MB that a server which never renders need not pay.
 */
let sharpModule: Promise<typeof import('sharp')> | undefined;
const loadSharp = async () => (await (sharpModule ??= import('sharp'))).default;
const inThisThread: FrameRenderer = async (file, limits, voi) =>
  (await import('./dicom-pixels.ts')).renderDicomFrame(file, limits, voi);

/**
 * One X-ray's bytes in, one JPEG or PNG out: DICOM through dicom-pixels.ts (decode, Modality and
 * VOI LUT, MONOCHROME1), a PNG or JPEG upload through sharp's decoder; then the source region,
 * the viewport and the encoding by sharp (libvips).
 */

export interface Rendered {
  type: RenderParams['type'];
  bytes: Buffer;
  width: number;
  height: number;
}

const invalidRegion = (): DomainError =>
  new DomainError('validation_failed', 'The rendering parameters are invalid.', [
    { field: 'viewport', message: 'the source region (sx, sy, sw, sh) lies outside the image' },
  ]);

/** The source region as sharp's extract() takes it, clipped to the image; flips for a negative sw, sh. */
function regionOf(v: Viewport | undefined, width: number, height: number) {
  if (!v?.region) return undefined;
  const { sx, sy, sw, sh } = v.region;
  const left = sx;
  const top = sy;
  const w = Math.min(Math.abs(sw), width - left);
  const h = Math.min(Math.abs(sh), height - top);
  if (left >= width || top >= height || w < 1 || h < 1) throw invalidRegion();
  return { left, top, width: w, height: h, flop: sw < 0, flip: sh < 0 };
}

async function encode(
  image: Sharp,
  size: { width: number; height: number },
  gray: boolean,
  p: RenderParams,
): Promise<Rendered> {
  const region = regionOf(p.viewport, size.width, size.height);
  if (region) {
    image = image.extract({ left: region.left, top: region.top, width: region.width, height: region.height });
    if (region.flop) image = image.flop();
    if (region.flip) image = image.flip();
  }
  // Scaled to fit the viewport, its aspect ratio kept (PS3.18 8.3.5.1.3).
  if (p.viewport) image = image.resize(p.viewport.vw, p.viewport.vh, { fit: 'inside', kernel: 'lanczos3' });
  if (gray) image = image.toColourspace('b-w');
  image =
    p.type === 'image/png'
      ? image.png({ compressionLevel: 6 })
      : image.jpeg({ quality: p.quality ?? 90, chromaSubsampling: '4:4:4', mozjpeg: false });
  const { data, info } = await image.toBuffer({ resolveWithObject: true });
  return { type: p.type, bytes: data, width: info.width, height: info.height };
}

/** A DICOM's first frame, as the pipeline put it on screen, encoded as asked. */
export async function renderDisplay(display: DisplayImage, p: RenderParams): Promise<Rendered> {
  const sharp = await loadSharp();
  const image = sharp(display.pixels, {
    raw: { width: display.width, height: display.height, channels: display.channels },
  });
  return encode(image, display, display.channels === 1, p);
}

/**
 * Renders `bytes`, an X-ray stored as `contentType`. The window applies to DICOM only (a PNG or
 * JPEG is already display values).
 */
export async function renderXrayBytes(
  bytes: Uint8Array,
  contentType: Xray['contentType'],
  p: RenderParams,
  limits: RenderLimits,
  frames: FrameRenderer = inThisThread,
): Promise<Rendered> {
  if (contentType === 'application/dicom') {
    const display = await frames(bytes, limits, p.window ? { kind: 'window', window: p.window } : undefined);
    return renderDisplay(display, p);
  }
  const sharp = await loadSharp();
  const image = sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'error' }).rotate();
  let meta;
  try {
    meta = await image.metadata();
  } catch (err) {
    throw new DomainError('not_renderable', 'This X-ray cannot be rendered: its image does not decode.', undefined, {
      cause: err,
    });
  }
  const width = meta.autoOrient.width;
  const height = meta.autoOrient.height;
  if (width * height > limits.maxPixels)
    throw new DomainError(
      'not_renderable',
      `This X-ray cannot be rendered: ${width} × ${height} pixels is more than the ${limits.maxPixels} this server renders.`,
    );
  const gray = meta.channels !== undefined && meta.channels <= 2;
  return encode(image, { width, height }, gray, p);
}
