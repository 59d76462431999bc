import type { DcmjsDict } from './dcmjs.js';
import type { DicomHeader } from './dicom-header.ts';

/** An attribute of the DICOM JSON model (PS3.18 F.2.2). */
export interface DicomJsonAttribute {
  vr: string;
  Value?: unknown[];
  BulkDataURI?: string;
  InlineBinary?: string;
}
/** A DICOM JSON data set: attributes by tag (8 upper-case hex digits), in tag order. */
export type DicomJsonDataset = Record<string, DicomJsonAttribute>;

/** Value representations whose values are bytes (bulk data): given by reference, never inline. */
const BINARY_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);
const PIXEL_DATA = '7FE00010';

const isDict = (v: unknown): v is DcmjsDict => typeof v === 'object' && v !== null && !Array.isArray(v);

function attributes(dict: DcmjsDict, bulkDataUri: string): DicomJsonDataset {
  const out: DicomJsonDataset = {};
  for (const tag of Object.keys(dict).sort()) {
    const element = dict[tag];
    if (!element || !/^[0-9A-Fa-f]{8}$/.test(tag)) continue;
    const key = tag.toUpperCase();
    // Group lengths are retired (PS3.5 7.2) and not part of the model.
    if (key.endsWith('0000')) continue;
    const vr = element.vr;
    const values = Array.isArray(element.Value) ? element.Value : [];
    if (BINARY_VRS.has(vr)) {
      out[key] = values.length ? { vr, BulkDataURI: bulkDataUri } : { vr };
    } else if (vr === 'SQ') {
      out[key] = values.length
        ? { vr, Value: values.map((item) => attributes(isDict(item) ? item : {}, bulkDataUri)) }
        : { vr };
    } else {
      // dcmjs gives DICOM JSON's own values (numbers for IS/DS, {Alphabetic…} for PN); empty strings are no value.
      const kept = values.filter((v) => v !== '' && v !== undefined);
      out[key] = kept.length ? { vr, Value: values.map((v) => (v === '' || v === undefined ? null : v)) } : { vr };
    }
  }
  return out;
}

/**
 * An instance's header as DICOM JSON (PS3.18 F.2): every attribute of the data set before the
 * pixel data (not the file meta group, which the model leaves out), and the pixel data and other
 * bulk values by `bulkDataUri` (not inline).
 */
export function toDicomJson(header: DicomHeader, bulkDataUri: string): DicomJsonDataset {
  const out = attributes(header.dataset, bulkDataUri);
  if (header.pixelData) {
    out[PIXEL_DATA] = { vr: header.pixelData.vr, BulkDataURI: bulkDataUri };
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
