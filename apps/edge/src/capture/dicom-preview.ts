import { firstString, loadDicomReader, type DicomHeader } from '@xray/shared';
import { dicomHeaderBytes } from './file-check.ts';

/** A small greyscale picture, ready for a canvas (ImageData's layout). */
export interface Thumbnail {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

export type DicomPreview = { ok: true; thumbnail: Thumbnail } | { ok: false; reason: string };

/** Transfer syntaxes whose pixel data is stored as plain numbers (no compression). */
const UNCOMPRESSED = new Map([
  ['1.2.840.10008.1.2', true], // implicit VR little endian
  ['1.2.840.10008.1.2.1', true], // explicit VR little endian
  ['1.2.840.10008.1.2.2', false], // explicit VR big endian (retired, still seen)
]);

const TAG = {
  transferSyntax: '00020010',
  samplesPerPixel: '00280002',
  photometric: '00280004',
  rows: '00280010',
  columns: '00280011',
  bitsAllocated: '00280100',
  pixelRepresentation: '00280103',
  windowCenter: '00281050',
  windowWidth: '00281051',
} as const;

/** A US attribute's value (dcmjs decodes it), or undefined. */
const us = (ds: DicomHeader, tag: string): number | undefined => {
  const v = ds.dataset[tag]?.Value?.[0];
  return typeof v === 'number' ? v : undefined;
};

/** The first value of a DS attribute (dcmjs decodes it to a number). */
const firstNumber = (ds: DicomHeader, tag: string): number | undefined => {
  const v = ds.dataset[tag]?.Value?.[0];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
};

/**
 * A thumbnail of a DICOM X-ray whose pixel data is uncompressed (8 or 16 bit greyscale): the
 * header is read (its first 64 KiB, on to 1 MiB when it is longer), then only the sampled rows of the pixel data (so an
 * 18 MB or 500 MB file costs a few hundred small reads, never the whole file in memory).
 * Compressed pixel data (JPEG, JPEG 2000, RLE) gets no preview here.
 */
export async function dicomThumbnail(file: Blob, maxSide = 320): Promise<DicomPreview> {
  let ds: DicomHeader;
  try {
    const { readDicomHeader } = await loadDicomReader();
    ds = readDicomHeader(await dicomHeaderBytes(file));
  } catch {
    return { ok: false, reason: 'The DICOM header cannot be read.' };
  }
  const ts = firstString(ds.meta[TAG.transferSyntax]) ?? '';
  const littleEndian = UNCOMPRESSED.get(ts);
  if (littleEndian === undefined) return { ok: false, reason: 'No preview for compressed DICOM images.' };
  const rows = us(ds, TAG.rows) ?? 0;
  const columns = us(ds, TAG.columns) ?? 0;
  const bits = us(ds, TAG.bitsAllocated) ?? 0;
  const samples = us(ds, TAG.samplesPerPixel) ?? 1;
  const signed = us(ds, TAG.pixelRepresentation) === 1;
  const photometric = firstString(ds.dataset[TAG.photometric]) ?? 'MONOCHROME2';
  // Where the walker found the pixel data (its value offset), within the header prefix.
  const pixels = ds.pixelData && { dataOffset: ds.pixelData.valueOffset, length: ds.pixelData.length ?? 0 };
  if (!pixels || pixels.length <= 0 || rows === 0 || columns === 0)
    return { ok: false, reason: 'The DICOM file has no readable pixel data.' };
  if (samples !== 1 || (bits !== 8 && bits !== 16) || !photometric.startsWith('MONOCHROME'))
    return { ok: false, reason: `No preview for ${photometric} ${bits}-bit images.` };
  const bytesPerPixel = bits / 8;
  const rowBytes = columns * bytesPerPixel;
  if (pixels.dataOffset + rows * rowBytes > file.size)
    return { ok: false, reason: 'The DICOM pixel data is shorter than its header says.' };

  const step = Math.max(1, Math.ceil(Math.max(rows, columns) / maxSide));
  const width = Math.ceil(columns / step);
  const height = Math.ceil(rows / step);
  const values = new Float64Array(width * height);
  for (let ty = 0; ty < height; ty++) {
    const start = pixels.dataOffset + ty * step * rowBytes;
    const row = new DataView(await file.slice(start, start + rowBytes).arrayBuffer());
    for (let tx = 0; tx < width; tx++) {
      const at = tx * step * bytesPerPixel;
      values[ty * width + tx] =
        bits === 8
          ? signed
            ? row.getInt8(at)
            : row.getUint8(at)
          : signed
            ? row.getInt16(at, littleEndian)
            : row.getUint16(at, littleEndian);
    }
  }
  // The file's own window when it has one, else the sampled range.
  const center = firstNumber(ds, TAG.windowCenter);
  const widthW = firstNumber(ds, TAG.windowWidth);
  let lo: number;
  let hi: number;
  if (center !== undefined && widthW !== undefined && widthW > 1) {
    lo = center - widthW / 2;
    hi = center + widthW / 2;
  } else {
    lo = Infinity;
    hi = -Infinity;
    for (const v of values) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  const span = hi > lo ? hi - lo : 1;
  const invert = photometric === 'MONOCHROME1';
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < values.length; i++) {
    const g = Math.round((255 * ((values[i] ?? 0) - lo)) / span);
    const v = invert ? 255 - g : g;
    rgba[i * 4] = v;
    rgba[i * 4 + 1] = v;
    rgba[i * 4 + 2] = v;
    rgba[i * 4 + 3] = 255;
  }
  return { ok: true, thumbnail: { width, height, rgba } };
}
