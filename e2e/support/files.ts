import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { dicomDimensionsForSize, makeJpeg, makePng, sha256Hex, writeDicom } from '@xray/testkit';

export interface TestFile {
  path: string;
  size: number;
  sha256: string;
}

export interface TestFiles {
  /** 3000×3000 16-bit: 18 MB, a chest DR image; its PatientID is P-E2E-DICOM. */
  dicom18: TestFile;
  png: TestFile;
  jpeg: TestFile;
}

export const DICOM_PATIENT_ID = 'P-E2E-DICOM';

async function writeBytes(file: string, bytes: Uint8Array): Promise<TestFile> {
  await writeFile(file, bytes);
  return { path: file, size: bytes.length, sha256: sha256Hex(bytes) };
}

/** The X-rays the browser tests capture, written once per run (seeded: the same bytes every time). */
export async function writeTestFiles(dir: string): Promise<TestFiles> {
  await mkdir(dir, { recursive: true });
  const dicom = await writeDicom(path.join(dir, 'chest-18mb.dcm'), { seed: 71, patientId: DICOM_PATIENT_ID });
  return {
    dicom18: { path: dicom.path, size: dicom.size, sha256: dicom.sha256 },
    png: await writeBytes(path.join(dir, 'hand.png'), makePng({ seed: 72, width: 1200, height: 1200 })),
    jpeg: await writeBytes(path.join(dir, 'knee.jpg'), makeJpeg({ seed: 73, width: 1200, height: 1200 })),
  };
}

/** A DICOM of about `bytes` (the benchmark's 50 MB one). */
export async function writeDicomOfSize(file: string, bytes: number, seed: number): Promise<TestFile> {
  const d = await writeDicom(file, { ...dicomDimensionsForSize(bytes), seed, patientId: DICOM_PATIENT_ID });
  return { path: d.path, size: d.size, sha256: d.sha256 };
}
