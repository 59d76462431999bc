import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { resolveDicomOptions, writeDicom } from '@xray/testkit';

/** Bytes at the start of a file that hold every UID; the rest (pixels) is shared by all variants. */
const HEADER_SPAN = 4096;

/**
 * A synthetic chest DR DICOM held in memory. Every upload sends a variant with its own
 * SOPInstanceUID (same length, same bytes otherwise): Orthanc answers a repeated instance with
 * "AlreadyStored" without storing it, which would flatter it.
 */
export class XrayFile {
  readonly name: string;
  readonly bytes: Buffer;
  readonly rows: number;
  private readonly uid: string;
  private counter = 0;

  private constructor(name: string, bytes: Buffer, rows: number, uid: string) {
    this.name = name;
    this.bytes = bytes;
    this.rows = rows;
    this.uid = uid;
  }

  get size(): number {
    return this.bytes.length;
  }

  static async write(
    dir: string,
    name: string,
    opts: { rows: number; columns: number; seed: number },
  ): Promise<XrayFile> {
    const dicomOpts = { ...opts, patientId: 'P-1001', bodyPart: 'CHEST', view: 'PA' };
    const written = await writeDicom(path.join(dir, `${name}.dcm`), dicomOpts);
    const bytes = await readFile(written.path);
    const uid = resolveDicomOptions(dicomOpts).sopInstanceUid;
    if (bytes.subarray(0, HEADER_SPAN).indexOf(uid) < 0) throw new Error('SOPInstanceUID not found in the header');
    return new XrayFile(name, bytes, opts.rows, uid);
  }

  /** The next variant as [header, pixels] (no copy of the pixels) and a name for it. */
  variant(): { parts: [Buffer, Buffer]; label: string } {
    const n = ++this.counter;
    const suffix = String(n).padStart(6, '0');
    // Same length: replace the UID's last digits (its last component is a long decimal).
    const uid = `${this.uid.slice(0, -suffix.length - 1)}9${suffix}`;
    const header = Buffer.from(this.bytes.subarray(0, HEADER_SPAN));
    let at = header.indexOf(this.uid);
    while (at >= 0) {
      header.write(uid, at, 'latin1');
      at = header.indexOf(this.uid, at + uid.length);
    }
    return { parts: [header, this.bytes.subarray(HEADER_SPAN)], label: `${this.name}-${suffix}` };
  }
}

export const concat = (parts: readonly Uint8Array[]): Buffer => Buffer.concat(parts);

export function sha256Of(parts: readonly Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}
