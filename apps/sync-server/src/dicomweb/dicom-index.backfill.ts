import type { Readable } from 'node:stream';
import { DICOM_HEADER_PREFIX_BYTES, readDicomHeader } from '@xray/shared';
import type { Pool } from '../db/pool.ts';
import type { ByteRange } from '../storage/index.ts';
import type { XrayRecord } from '../xrays/xray.repository.ts';
import { dicomInstanceRepository } from './dicom-instance.repository.ts';
import { indexEntryOf } from './dicom-index.ts';

export interface BackfillDeps {
  pool: Pool;
  get(id: string): Promise<XrayRecord>;
  /** XrayService.openContent: decrypts the stored object (only the segments the range touches). */
  openContent(x: XrayRecord, range?: ByteRange): Promise<Readable>;
}

export interface BackfillReport {
  indexed: number;
  /** DICOM X-rays whose header names no study, series or instance UID: not in DICOMweb. */
  skipped: string[];
  failed: { id: string; error: string }[];
}

async function headerPrefix(deps: BackfillDeps, x: XrayRecord): Promise<Buffer> {
  const end = Math.min(x.sizeBytes, DICOM_HEADER_PREFIX_BYTES) - 1;
  const content = await deps.openContent(x, end >= 0 ? { start: 0, end } : undefined);
  const chunks: Buffer[] = [];
  for await (const chunk of content) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/**
 * Indexes DICOM X-rays stored before the index existed (`xray-admin dicom-index`): for each, the
 * header prefix only is decrypted (never the whole X-ray) and indexed as finalize would have.
 * Safe to run while the server runs, and again: a row written meanwhile is kept.
 */
export async function backfillDicomIndex(
  deps: BackfillDeps,
  opts: { batch?: number; onProgress?: (done: number) => void } = {},
): Promise<BackfillReport> {
  const report: BackfillReport = { indexed: 0, skipped: [], failed: [] };
  let after: string | null = null;
  for (;;) {
    const ids = await dicomInstanceRepository.unindexed(deps.pool, after, opts.batch ?? 100);
    if (ids.length === 0) return report;
    for (const id of ids) {
      after = id;
      try {
        const x = await deps.get(id);
        const entry = indexEntryOf(readDicomHeader(await headerPrefix(deps, x)));
        if (!entry) {
          report.skipped.push(id);
          continue;
        }
        await dicomInstanceRepository.insert(deps.pool, id, entry);
        report.indexed++;
      } catch (err) {
        // One unreadable X-ray (deleted meanwhile, an object that fails its check) does not stop the rest.
        report.failed.push({ id, error: err instanceof Error ? err.message : String(err) });
      }
    }
    opts.onProgress?.(report.indexed);
  }
}
