import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors.ts';
import {
  negotiateType,
  parseViewport,
  parseWindow,
  previewParamsOf,
  renderKeyOf,
  renderParamsOf,
} from './render.params.ts';

const SHA = 'a'.repeat(64);

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (err) {
    return err instanceof DomainError ? err.code : 'other';
  }
  return undefined;
};

describe('window (PS3.18 8.3.5.1.4)', () => {
  it('reads center, width and the function', () => {
    expect(parseWindow('40,400,linear')).toEqual({ center: 40, width: 400, function: 'LINEAR' });
    expect(parseWindow('-600.5,1500,linear-exact')).toEqual({ center: -600.5, width: 1500, function: 'LINEAR_EXACT' });
    expect(parseWindow('0,1e3,SIGMOID')).toEqual({ center: 0, width: 1000, function: 'SIGMOID' });
    expect(parseWindow('40,400')).toEqual({ center: 40, width: 400, function: 'LINEAR' });
    expect(parseWindow(undefined)).toBeUndefined();
  });

  it('refuses what is not a window', () => {
    for (const bad of [
      '40',
      '40,400,cubic',
      'a,400',
      '40,0,linear',
      '40,0.5,linear',
      '40,-1,sigmoid',
      '1,2,linear,4',
      '0x10,5',
    ])
      expect(
        codeOf(() => parseWindow(bad)),
        bad,
      ).toBe('validation_failed');
  });
});

describe('viewport (PS3.18 8.3.5.1.3)', () => {
  it('reads vw,vh and the optional source region', () => {
    expect(parseViewport('256,128')).toEqual({ vw: 256, vh: 128 });
    expect(parseViewport('100,100,10,20,-30,40')).toEqual({
      vw: 100,
      vh: 100,
      region: { sx: 10, sy: 20, sw: -30, sh: 40 },
    });
  });

  it('refuses the malformed and the absurd', () => {
    for (const bad of ['256', '0,10', '10,10,1,2,3', '10.5,10', '99999,10', '10,10,0,0,0,5', '10,10,-1,0,5,5'])
      expect(
        codeOf(() => parseViewport(bad)),
        bad,
      ).toBe('validation_failed');
  });
});

describe('Accept', () => {
  it('JPEG by default and for wildcards, PNG when preferred', () => {
    expect(negotiateType(undefined)).toBe('image/jpeg');
    expect(negotiateType('*/*')).toBe('image/jpeg');
    expect(negotiateType('image/*')).toBe('image/jpeg');
    expect(negotiateType('image/png')).toBe('image/png');
    expect(negotiateType('image/jpeg;q=0.5, image/png')).toBe('image/png');
    expect(negotiateType('image/png;q=0.1, */*;q=0.5')).toBe('image/jpeg');
    expect(negotiateType('text/html, image/png;q=0.9')).toBe('image/png');
  });

  it('406 when neither is acceptable', () => {
    for (const bad of [
      'application/dicom',
      'image/gif',
      'image/png;q=0, image/jpeg;q=0',
      'multipart/related; type="image/jpeg"',
    ])
      expect(
        codeOf(() => negotiateType(bad)),
        bad,
      ).toBe('not_acceptable');
  });
});

describe('parameters and their cache key', () => {
  it('normalizes: equal meaning, equal key', () => {
    const a = renderParamsOf({ window: '40,400', viewport: '128,128' }, undefined);
    const b = renderParamsOf({ window: '40.0,400.00,LINEAR', viewport: '128,128', quality: '90' }, 'image/jpeg');
    expect(renderKeyOf(SHA, a)).toBe(renderKeyOf(SHA, b));
    // PNG is lossless: quality does not split its entries.
    const p1 = renderParamsOf({ quality: '10' }, 'image/png');
    const p2 = renderParamsOf({ quality: '99' }, 'image/png');
    expect(renderKeyOf(SHA, p1)).toBe(renderKeyOf(SHA, p2));
  });

  it('differs with anything that changes the image', () => {
    const base = renderParamsOf({}, undefined);
    const keys = new Set([
      renderKeyOf(SHA, base),
      renderKeyOf('b'.repeat(64), base),
      renderKeyOf(SHA, renderParamsOf({}, 'image/png')),
      renderKeyOf(SHA, renderParamsOf({ quality: '50' }, undefined)),
      renderKeyOf(SHA, renderParamsOf({ window: '40,400' }, undefined)),
      renderKeyOf(SHA, renderParamsOf({ window: '40,400,sigmoid' }, undefined)),
      renderKeyOf(SHA, renderParamsOf({ viewport: '64,64' }, undefined)),
      renderKeyOf(SHA, renderParamsOf({ viewport: '64,64,0,0,10,10' }, undefined)),
    ]);
    expect(keys.size).toBe(8);
  });

  it('a thumbnail default applies only when no viewport is asked for; a repeated parameter is refused', () => {
    expect(renderParamsOf({}, undefined, { viewport: { vw: 128, vh: 128 } }).viewport).toEqual({ vw: 128, vh: 128 });
    expect(renderParamsOf({ viewport: '32,32' }, undefined, { viewport: { vw: 128, vh: 128 } }).viewport).toEqual({
      vw: 32,
      vh: 32,
    });
    expect(codeOf(() => renderParamsOf({ quality: ['1', '2'] }, undefined))).toBe('validation_failed');
    expect(codeOf(() => renderParamsOf({ quality: '0' }, undefined))).toBe('validation_failed');
    expect(codeOf(() => renderParamsOf({ quality: '101' }, undefined))).toBe('validation_failed');
  });

  it('preview size: 64..2048, default 512, and a preview is the same entry as the viewport it means', () => {
    expect(previewParamsOf({}, undefined).viewport).toEqual({ vw: 512, vh: 512 });
    expect(renderKeyOf(SHA, previewParamsOf({ size: '256' }, undefined))).toBe(
      renderKeyOf(SHA, renderParamsOf({ viewport: '256,256' }, undefined)),
    );
    for (const bad of ['63', '2049', 'abc', '1.5', ''])
      expect(
        codeOf(() => previewParamsOf({ size: bad }, undefined)),
        bad,
      ).toBe('validation_failed');
  });
});
