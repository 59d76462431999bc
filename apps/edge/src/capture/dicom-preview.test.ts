import { makeDicom } from '@xray/testkit';
import { describe, expect, it } from 'vitest';
import { dicomThumbnail } from './dicom-preview.ts';
import { blobOf, smallPng } from '../../test/fixtures.ts';

describe('dicomThumbnail', () => {
  it('draws uncompressed 16-bit pixel data scaled down, using the full grey range', async () => {
    const preview = await dicomThumbnail(blobOf(makeDicom({ rows: 600, columns: 400, seed: 5 })), 100);
    if (!preview.ok) throw new Error(preview.reason);
    const { width, height, rgba } = preview.thumbnail;
    expect([width, height]).toEqual([67, 100]);
    expect(rgba.length).toBe(width * height * 4);
    const greys = new Set<number>();
    for (let i = 0; i < rgba.length; i += 4) {
      expect(rgba[i]).toBe(rgba[i + 1]);
      expect(rgba[i + 3]).toBe(255);
      greys.add(rgba[i] ?? 0);
    }
    expect(Math.min(...greys)).toBe(0);
    expect(Math.max(...greys)).toBe(255);
    expect(greys.size).toBeGreaterThan(50);
  });

  it('keeps small images at their size', async () => {
    const preview = await dicomThumbnail(blobOf(makeDicom({ rows: 64, columns: 64 })), 320);
    expect(preview.ok && [preview.thumbnail.width, preview.thumbnail.height]).toEqual([64, 64]);
  });

  it('finds the pixel data after a header longer than 64 KiB', async () => {
    const preview = await dicomThumbnail(blobOf(makeDicom({ rows: 64, columns: 64, privateDataBytes: 70_000 })), 320);
    expect(preview.ok && [preview.thumbnail.width, preview.thumbnail.height]).toEqual([64, 64]);
  });

  it('says why there is no preview', async () => {
    expect(await dicomThumbnail(blobOf(smallPng(1)))).toEqual({
      ok: false,
      reason: 'The DICOM header cannot be read.',
    });
    const truncated = makeDicom({ rows: 64, columns: 64 }).subarray(0, 2_000);
    expect(await dicomThumbnail(blobOf(truncated))).toMatchObject({ ok: false });
  });
});
