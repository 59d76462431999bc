import { createHash } from 'node:crypto';
import { DomainError } from '../errors.ts';
import type { Window } from './voi-lut.ts';

/**
 * What a rendered image is asked for, as PS3.18 8.3.5 defines the query parameters (`window`,
 * `viewport`, `quality`) and the media types (Accept), parsed into one normalized value: two
 * requests that mean the same image have the same cache key.
 */

export const RENDERED_TYPES = ['image/jpeg', 'image/png'] as const;
export type RenderedType = (typeof RENDERED_TYPES)[number];

/** PS3.18 8.3.5.1.3: the rendered size (vw × vh) and, optionally, the source region (sx, sy, sw, sh). */
export interface Viewport {
  vw: number;
  vh: number;
  /** The region of the source image; a negative sw or sh flips it (horizontally, vertically). */
  region?: { sx: number; sy: number; sw: number; sh: number };
}

export interface RenderParams {
  type: RenderedType;
  /** JPEG quality 1..100; undefined for PNG (lossless: the parameter means nothing to it). */
  quality: number | undefined;
  window?: Window;
  viewport?: Viewport;
}

export const DEFAULT_QUALITY = 90;
/** The largest side of a rendered image (viewport vw, vh): past a 4K screen, only a cost. */
export const MAX_RENDERED_SIDE = 4096;

const invalid = (field: string, message: string): DomainError =>
  new DomainError('validation_failed', 'The rendering parameters are invalid.', [{ field, message }]);

/** A query parameter given once, as a string (Express gives arrays for repeats, objects for brackets). */
function single(query: Record<string, unknown>, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalid(name, 'must be given once');
  return v;
}

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

function decimal(field: string, raw: string): number {
  const v = Number(raw.trim());
  if (!DECIMAL.test(raw.trim()) || !Number.isFinite(v)) throw invalid(field, `"${raw}" is not a number`);
  return v;
}

function integer(field: string, raw: string, min: number, max: number): number {
  const v = Number(raw.trim());
  if (!INTEGER.test(raw.trim()) || v < min || v > max) throw invalid(field, `must be an integer from ${min} to ${max}`);
  return v;
}

const FUNCTIONS: Record<string, Window['function']> = {
  linear: 'LINEAR',
  'linear-exact': 'LINEAR_EXACT',
  linear_exact: 'LINEAR_EXACT',
  sigmoid: 'SIGMOID',
};

/** `window=center,width,function` (PS3.18 8.3.5.1.4): function linear, linear-exact or sigmoid (default linear). */
export function parseWindow(raw: string | undefined): Window | undefined {
  if (raw === undefined) return undefined;
  const parts = raw.split(',');
  if (parts.length < 2 || parts.length > 3)
    throw invalid('window', 'must be center,width,function (function: linear, linear-exact or sigmoid)');
  const center = decimal('window', parts[0] ?? '');
  const width = decimal('window', parts[1] ?? '');
  const fn = parts[2] === undefined ? 'LINEAR' : FUNCTIONS[parts[2].trim().toLowerCase()];
  if (!fn) throw invalid('window', 'the function must be linear, linear-exact or sigmoid');
  // LINEAR needs a width of at least 1 (PS3.3 C.11.2.1.2.1); the others any width above 0.
  if (fn === 'LINEAR' ? width < 1 : width <= 0)
    throw invalid('window', fn === 'LINEAR' ? 'a linear window is at least 1 wide' : 'the width must be above 0');
  return { center, width, function: fn };
}

/** `viewport=vw,vh` or `viewport=vw,vh,sx,sy,sw,sh` (PS3.18 8.3.5.1.3). */
export function parseViewport(raw: string | undefined): Viewport | undefined {
  if (raw === undefined) return undefined;
  const parts = raw.split(',');
  if (parts.length !== 2 && parts.length !== 6) throw invalid('viewport', 'must be vw,vh or vw,vh,sx,sy,sw,sh');
  const [vw, vh] = parts.slice(0, 2).map((p) => integer('viewport', p, 1, MAX_RENDERED_SIDE)) as [number, number];
  if (parts.length === 2) return { vw, vh };
  const [sx, sy] = parts.slice(2, 4).map((p) => integer('viewport', p, 0, 0xffff)) as [number, number];
  const [sw, sh] = parts.slice(4, 6).map((p) => integer('viewport', p, -0xffff, 0xffff)) as [number, number];
  if (sw === 0 || sh === 0) throw invalid('viewport', 'the source region sw, sh must not be 0');
  return { vw, vh, region: { sx, sy, sw, sh } };
}

export function parseQuality(raw: string | undefined): number | undefined {
  return raw === undefined ? undefined : integer('quality', raw, 1, 100);
}

/**
 * The media type to answer with, from Accept (RFC 9110 12.5.1: q-values, `image/*`, `*\/*`); JPEG
 * when there is no Accept or both are equally welcome. 406 when neither is acceptable.
 */
export function negotiateType(accept: string | undefined): RenderedType {
  if (!accept?.trim()) return 'image/jpeg';
  const q: Record<RenderedType, number> = { 'image/jpeg': -1, 'image/png': -1 };
  const specificity: Record<RenderedType, number> = { 'image/jpeg': -1, 'image/png': -1 };
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const weight = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(weight)) continue;
    for (const t of RENDERED_TYPES) {
      // The most specific range that matches a type decides its q (RFC 9110 12.5.1).
      const s = type === t ? 2 : type === 'image/*' ? 1 : type === '*/*' ? 0 : -1;
      if (s > specificity[t]) {
        specificity[t] = s;
        q[t] = weight;
      }
    }
  }
  const best = RENDERED_TYPES.filter((t) => q[t] > 0).sort((a, b) => q[b] - q[a])[0];
  if (!best)
    throw new DomainError(
      'not_acceptable',
      'A rendered image is served as image/jpeg or image/png; Accept allows neither.',
    );
  return best;
}

/**
 * The request's parameters. `query` is Express's req.query; `defaults.viewport` is what a resource
 * renders at when none is asked for (a thumbnail's small size).
 */
export function renderParamsOf(
  query: Record<string, unknown>,
  accept: string | undefined,
  defaults: { viewport?: Viewport } = {},
): RenderParams {
  const type = negotiateType(accept);
  const quality = parseQuality(single(query, 'quality'));
  const window = parseWindow(single(query, 'window'));
  const viewport = parseViewport(single(query, 'viewport')) ?? defaults.viewport;
  return {
    type,
    quality: type === 'image/jpeg' ? (quality ?? DEFAULT_QUALITY) : undefined,
    ...(window ? { window } : {}),
    ...(viewport ? { viewport } : {}),
  };
}

/** The bounds of REST's `size` (the preview's longest side). */
export const PREVIEW_SIZE = { min: 64, max: 2048, default: 512 } as const;

/** GET /xrays/{id}/preview: `size` (64..2048, the longest side) and Accept. */
export function previewParamsOf(query: Record<string, unknown>, accept: string | undefined): RenderParams {
  const type = negotiateType(accept);
  const raw = single(query, 'size');
  const size = raw === undefined ? PREVIEW_SIZE.default : integer('size', raw, PREVIEW_SIZE.min, PREVIEW_SIZE.max);
  return {
    type,
    quality: type === 'image/jpeg' ? DEFAULT_QUALITY : undefined,
    viewport: { vw: size, vh: size },
  };
}

/**
 * The cache key of a render of one X-ray's content (`sha256`: its bytes, so another upload under
 * the same id could never be served a stale render): hex SHA-256 over a canonical JSON of the
 * normalized parameters. Numbers are canonical (JSON of a Number), so `window=40,400` and
 * `window=40.0,400.0,LINEAR` are one entry.
 */
export function renderKeyOf(contentSha256: string, p: RenderParams): string {
  const canonical = JSON.stringify([
    'render',
    1,
    contentSha256,
    p.type,
    p.quality ?? null,
    p.window ? [p.window.center, p.window.width, p.window.function] : null,
    p.viewport
      ? [
          p.viewport.vw,
          p.viewport.vh,
          p.viewport.region
            ? [p.viewport.region.sx, p.viewport.region.sy, p.viewport.region.sw, p.viewport.region.sh]
            : null,
        ]
      : null,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}
