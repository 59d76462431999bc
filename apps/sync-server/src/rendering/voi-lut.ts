/**
 * The grayscale pipeline of PS3.3 C.11 (Figure C.11-1): stored value → Modality LUT (rescale
 * slope/intercept, or a Modality LUT Sequence) → VOI LUT (a window with its function, or a VOI LUT
 * Sequence) → Presentation (MONOCHROME1 inverted) → 8-bit display value. Written here rather than
 * taken from dcmjs-imaging: its renderer applies no VOI LUT Sequence and takes no window function
 * from the caller (PS3.18's `window=c,w,sigmoid`).
 *
 * Every stored value a BitsStored ≤ 16 image can hold maps through one table of at most 65536
 * entries, so a pixel costs one lookup whatever the pipeline.
 */

/** PS3.3 C.11.2.1.3: the VOI LUT Function (0028,1056). */
export const VOI_FUNCTIONS = ['LINEAR', 'LINEAR_EXACT', 'SIGMOID'] as const;
export type VoiFunction = (typeof VOI_FUNCTIONS)[number];

export interface Window {
  center: number;
  width: number;
  function: VoiFunction;
}

/** A LUT as DICOM describes it: LUT Descriptor (entries, first value mapped, bits) and LUT Data. */
export interface LutTable {
  firstMapped: number;
  /** Output bits per entry (LUT Descriptor's third value). */
  bits: number;
  data: ArrayLike<number>;
}

/** What turns modality values into display values: a window, a table, or the full range the values can take. */
export type Voi = { kind: 'window'; window: Window } | { kind: 'lut'; lut: LutTable } | { kind: 'range' };

export interface GrayscaleTransform {
  bitsStored: number;
  signed: boolean;
  /** Modality LUT: rescale (C.11.1.1.2), or a table (the Modality LUT Sequence). */
  modality: { kind: 'rescale'; slope: number; intercept: number } | { kind: 'lut'; lut: LutTable };
  voi: Voi;
  /** MONOCHROME1: the minimum value is white. */
  invert: boolean;
}

/**
 * y in [yMin, yMax] for modality value x through a window, as C.11.2.1.2.1 (LINEAR), C.11.2.1.3.2
 * (LINEAR_EXACT) and C.11.2.1.3.1 (SIGMOID) define it. Not rounded.
 */
export function applyWindow(x: number, w: Window, yMin: number, yMax: number): number {
  const { center: c, width } = w;
  const range = yMax - yMin;
  switch (w.function) {
    case 'LINEAR': {
      // Width must be ≥ 1 (C.11.2.1.2.1); a narrower one is a threshold at c - 0.5.
      const wd = Math.max(width, 1);
      if (wd === 1) return x <= c - 0.5 ? yMin : yMax;
      if (x <= c - 0.5 - (wd - 1) / 2) return yMin;
      if (x > c - 0.5 + (wd - 1) / 2) return yMax;
      return ((x - (c - 0.5)) / (wd - 1) + 0.5) * range + yMin;
    }
    case 'LINEAR_EXACT': {
      if (width <= 0) return x <= c ? yMin : yMax;
      if (x <= c - width / 2) return yMin;
      if (x > c + width / 2) return yMax;
      return ((x - c) / width + 0.5) * range + yMin;
    }
    case 'SIGMOID': {
      if (width <= 0) return x <= c ? yMin : yMax;
      return range / (1 + Math.exp((-4 * (x - c)) / width)) + yMin;
    }
  }
}

/** The table's entry for x: below the first mapped value the first entry, past the last the last (C.11.2.1.1). */
export function applyLut(x: number, lut: LutTable): number {
  const n = lut.data.length;
  const i = Math.round(x) - lut.firstMapped;
  return lut.data[i < 0 ? 0 : i >= n ? n - 1 : i] ?? 0;
}

/** The smallest and largest value a stored sample can hold. */
export function storedRange(bitsStored: number, signed: boolean): { min: number; max: number } {
  return signed
    ? { min: -(2 ** (bitsStored - 1)), max: 2 ** (bitsStored - 1) - 1 }
    : { min: 0, max: 2 ** bitsStored - 1 };
}

/** A stored sample's bits (index 0 … 2^bitsStored - 1) as its value, sign-extended when signed. */
export const storedValueOf = (index: number, bitsStored: number, signed: boolean): number =>
  signed && index >= 2 ** (bitsStored - 1) ? index - 2 ** bitsStored : index;

export const modalityValue = (sv: number, m: GrayscaleTransform['modality']): number =>
  m.kind === 'rescale' ? sv * m.slope + m.intercept : applyLut(sv, m.lut);

/** The display table: entry i (a stored sample's bits) → 0..255. */
export function displayTable(t: GrayscaleTransform): Uint8Array {
  if (t.bitsStored < 1 || t.bitsStored > 16) throw new RangeError(`BitsStored ${t.bitsStored} is not 1..16`);
  const size = 2 ** t.bitsStored;
  const modality = new Float64Array(size);
  for (let i = 0; i < size; i++) modality[i] = modalityValue(storedValueOf(i, t.bitsStored, t.signed), t.modality);
  const voi = resolvedVoi(t.voi, modality);
  const table = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    const x = modality[i] ?? 0;
    const y =
      voi.kind === 'lut' ? (applyLut(x, voi.lut) / (2 ** voi.lut.bits - 1)) * 255 : applyWindow(x, voi.window, 0, 255);
    const v = Math.min(255, Math.max(0, Math.round(y)));
    table[i] = t.invert ? 255 - v : v;
  }
  return table;
}

/**
 * `range` (a file with neither window nor VOI LUT): the whole range its modality values can take,
 * black to white, as dcmtk and Orthanc render such a file. Not the values present: an image
 * would then look the same whatever its exposure.
 */
function resolvedVoi(
  voi: Voi,
  modality: Float64Array,
): { kind: 'window'; window: Window } | { kind: 'lut'; lut: LutTable } {
  if (voi.kind !== 'range') return voi;
  let min = Infinity;
  let max = -Infinity;
  for (const v of modality) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { kind: 'window', window: { center: (min + max) / 2, width: max - min, function: 'LINEAR_EXACT' } };
}

/** Samples as stored: 8 or 16 bits allocated, the stored bits at the bottom (HighBit = BitsStored - 1). */
export type StoredSamples = Uint8Array | Uint16Array;

/**
 * One display byte per sample. Bits above BitsStored (an overlay, or garbage) are masked off; a
 * HighBit above BitsStored - 1 is shifted down first.
 */
export function toDisplay(samples: StoredSamples, t: GrayscaleTransform, highBit = t.bitsStored - 1): Uint8Array {
  const shift = highBit - (t.bitsStored - 1);
  if (shift < 0) throw new RangeError(`HighBit ${highBit} is below BitsStored - 1`);
  const mask = 2 ** t.bitsStored - 1;
  const table = displayTable(t);
  const out = new Uint8Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = table[((samples[i] ?? 0) >>> shift) & mask] ?? 0;
  return out;
}
