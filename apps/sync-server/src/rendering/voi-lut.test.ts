import { describe, expect, it } from 'vitest';
import { applyLut, applyWindow, displayTable, toDisplay, type GrayscaleTransform } from './voi-lut.ts';

/** The formulas of PS3.3 C.11.2.1.2.1 and C.11.2.1.3, written out once more to compare against. */
const linear = (x: number, c: number, w: number) =>
  x <= c - 0.5 - (w - 1) / 2 ? 0 : x > c - 0.5 + (w - 1) / 2 ? 255 : ((x - (c - 0.5)) / (w - 1) + 0.5) * 255;
const linearExact = (x: number, c: number, w: number) =>
  x <= c - w / 2 ? 0 : x > c + w / 2 ? 255 : ((x - c) / w + 0.5) * 255;
const sigmoid = (x: number, c: number, w: number) => 255 / (1 + Math.exp((-4 * (x - c)) / w));

const gray = (over: Partial<GrayscaleTransform> = {}): GrayscaleTransform => ({
  bitsStored: 12,
  signed: false,
  modality: { kind: 'rescale', slope: 1, intercept: 0 },
  voi: { kind: 'range' },
  invert: false,
  ...over,
});

describe('VOI window functions (PS3.3 C.11.2.1.2)', () => {
  it('LINEAR: black at and below c - 0.5 - (w-1)/2, white above c - 0.5 + (w-1)/2, linear between', () => {
    const w = { center: 40, width: 400, function: 'LINEAR' as const };
    expect(applyWindow(-160, w, 0, 255)).toBe(0);
    expect(applyWindow(-159, w, 0, 255)).toBeCloseTo(linear(-159, 40, 400), 10);
    expect(applyWindow(39.5, w, 0, 255)).toBeCloseTo(127.5, 10);
    expect(applyWindow(239, w, 0, 255)).toBeCloseTo(255, 10);
    expect(applyWindow(239.01, w, 0, 255)).toBe(255);
    for (let x = -300; x <= 300; x += 7) expect(applyWindow(x, w, 0, 255)).toBeCloseTo(linear(x, 40, 400), 10);
  });

  it('LINEAR with a width of 1 is a threshold at c - 0.5', () => {
    const w = { center: 100, width: 1, function: 'LINEAR' as const };
    expect(applyWindow(99.5, w, 0, 255)).toBe(0);
    expect(applyWindow(99.6, w, 0, 255)).toBe(255);
  });

  it('LINEAR_EXACT: (x - c)/w + 0.5 between c - w/2 and c + w/2', () => {
    const w = { center: 0, width: 100, function: 'LINEAR_EXACT' as const };
    expect(applyWindow(-50, w, 0, 255)).toBe(0);
    expect(applyWindow(0, w, 0, 255)).toBeCloseTo(127.5, 10);
    expect(applyWindow(25, w, 0, 255)).toBeCloseTo(191.25, 10);
    expect(applyWindow(50, w, 0, 255)).toBeCloseTo(255, 10);
    expect(applyWindow(50.001, w, 0, 255)).toBe(255);
    for (let x = -80; x <= 80; x += 3) expect(applyWindow(x, w, 0, 255)).toBeCloseTo(linearExact(x, 0, 100), 10);
  });

  it('SIGMOID: (ymax - ymin) / (1 + exp(-4 (x - c) / w)) + ymin', () => {
    const w = { center: 1000, width: 400, function: 'SIGMOID' as const };
    expect(applyWindow(1000, w, 0, 255)).toBeCloseTo(127.5, 10);
    expect(applyWindow(1100, w, 0, 255)).toBeCloseTo(255 / (1 + Math.exp(-1)), 10);
    for (let x = 0; x <= 2000; x += 37) expect(applyWindow(x, w, 0, 255)).toBeCloseTo(sigmoid(x, 1000, 400), 10);
    // Never quite black or white: the curve only approaches them.
    expect(applyWindow(0, w, 0, 255)).toBeGreaterThan(0);
  });

  it('maps into any output range (ymin, ymax)', () => {
    expect(applyWindow(0, { center: 0, width: 100, function: 'LINEAR_EXACT' }, 10, 20)).toBeCloseTo(15, 10);
  });
});

describe('LUT tables (C.11.1.1.1, C.11.2.1.1)', () => {
  const lut = { firstMapped: 100, bits: 8, data: [10, 20, 30] };
  it('maps from the first value mapped, clamping below to the first entry and above to the last', () => {
    expect(applyLut(99, lut)).toBe(10);
    expect(applyLut(100, lut)).toBe(10);
    expect(applyLut(101, lut)).toBe(20);
    expect(applyLut(102, lut)).toBe(30);
    expect(applyLut(5000, lut)).toBe(30);
  });
});

describe('display table: stored value → modality → VOI → presentation', () => {
  it('rescale slope and intercept come before the window', () => {
    // CT-like: HU = 2 * sv - 1024; a window of c=0, w=200 (LINEAR_EXACT) over HU.
    const t = displayTable(
      gray({
        modality: { kind: 'rescale', slope: 2, intercept: -1024 },
        voi: { kind: 'window', window: { center: 0, width: 200, function: 'LINEAR_EXACT' } },
      }),
    );
    expect(t[512]).toBe(128); // HU 0 → 127.5 rounds to 128
    expect(t[462]).toBe(0); // HU -100
    expect(t[562]).toBe(255); // HU 100
    expect(t[537]).toBe(Math.round(linearExact(50, 0, 200)));
  });

  it('MONOCHROME1 is inverted after the VOI: the lowest value is white', () => {
    const t = displayTable(
      gray({ invert: true, voi: { kind: 'window', window: { center: 2048, width: 4096, function: 'LINEAR' } } }),
    );
    expect(t[0]).toBe(255);
    expect(t[4095]).toBe(0);
    expect(t[2048]).toBe(255 - Math.round(linear(2048, 2048, 4096)));
  });

  it('signed pixels: the stored bits are two’s complement (16-bit, rescale to HU)', () => {
    const t = displayTable(
      gray({
        bitsStored: 16,
        signed: true,
        voi: { kind: 'window', window: { center: 0, width: 2000, function: 'LINEAR_EXACT' } },
      }),
    );
    expect(t[0xffff]).toBe(Math.round(linearExact(-1, 0, 2000))); // -1
    expect(t[0x8000]).toBe(0); // -32768
    expect(t[0x7fff]).toBe(255); // 32767
    expect(t[0xfc18]).toBe(0); // -1000
  });

  it('a VOI LUT Sequence table scales its output bits to 0..255', () => {
    const t = displayTable(
      gray({ bitsStored: 8, voi: { kind: 'lut', lut: { firstMapped: 0, bits: 12, data: [0, 4095, 2048] } } }),
    );
    expect([t[0], t[1], t[2], t[200]]).toEqual([
      0,
      255,
      Math.round((2048 / 4095) * 255),
      Math.round((2048 / 4095) * 255),
    ]);
  });

  it('a Modality LUT table replaces rescale', () => {
    const t = displayTable(
      gray({
        bitsStored: 8,
        modality: { kind: 'lut', lut: { firstMapped: 0, bits: 16, data: [1000, 2000] } },
        voi: { kind: 'window', window: { center: 1500, width: 1000, function: 'LINEAR_EXACT' } },
      }),
    );
    expect(t[0]).toBe(0);
    expect(t[1]).toBe(255);
  });
});

describe('toDisplay', () => {
  it('without a window maps the whole range the values can take from black to white (as dcmtk and Orthanc do)', () => {
    expect([...toDisplay(new Uint16Array([0, 500, 1000, 1500, 4095]), gray())]).toEqual([0, 31, 62, 93, 255]);
    // Through the modality LUT: a negative slope turns the range around.
    const flipped = gray({ modality: { kind: 'rescale', slope: -1, intercept: 0 } });
    expect([...toDisplay(new Uint16Array([0, 4095]), flipped)]).toEqual([255, 0]);
  });

  it('masks bits above BitsStored and shifts a HighBit above BitsStored - 1', () => {
    const t = gray({
      bitsStored: 8,
      voi: { kind: 'window', window: { center: 127.5, width: 255, function: 'LINEAR_EXACT' } },
    });
    // 0xF0FF: garbage in the top bits, 0xFF stored.
    expect([...toDisplay(new Uint16Array([0xf0ff]), t)]).toEqual([255]);
    // HighBit 11 with 8 bits stored: the value sits in bits 4..11.
    expect([...toDisplay(new Uint16Array([0x0ff0, 0x0000]), t, 11)]).toEqual([255, 0]);
  });

  it('8-bit samples go through the same table', () => {
    const t = gray({
      bitsStored: 8,
      voi: { kind: 'window', window: { center: 127.5, width: 255, function: 'LINEAR_EXACT' } },
    });
    expect([...toDisplay(new Uint8Array([0, 128, 255]), t)]).toEqual([0, 128, 255]);
  });
});
