import type { ContentType } from '../schemas/xray.ts';
import type { Crc32 } from './crc32.ts';
import { DicomWalker } from './dicom-walker.ts';
import type { FormatWalker } from './format-walker.ts';
import { JpegWalker } from './jpeg-walker.ts';
import { PngWalker } from './png-walker.ts';

export interface FormatWalkerOptions {
  /** A faster CRC-32 for PNG chunks where there is one (node:zlib's); the shared one otherwise. */
  crc32?: Crc32;
}

/** A fresh walker for a file of this (sniffed) type: feed it every byte, then `end()`. */
export function formatWalkerFor(contentType: ContentType, options: FormatWalkerOptions = {}): FormatWalker {
  switch (contentType) {
    case 'application/dicom':
      return new DicomWalker();
    case 'image/png':
      return new PngWalker(options);
    case 'image/jpeg':
      return new JpegWalker();
  }
}

/** Checks a whole file in memory (small files, tests). Throws FileStructureError. */
export function checkFileStructure(contentType: ContentType, bytes: Uint8Array): void {
  const walker = formatWalkerFor(contentType);
  walker.update(bytes);
  walker.end();
}
