import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dcmtk, makeDicom } from '@xray/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { renderDicomFrame } from './dicom-pixels.ts';
import { RenderPool } from './render.pool.ts';

const LIMITS = { maxPixels: 10_000_000 };
const pool = new RenderPool();
afterAll(() => pool.close());

describe('RenderPool', () => {
  it('renders in a worker exactly what this thread renders, and the worker is used again', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'xray-render-pool-'));
    try {
      await writeFile(path.join(dir, 'a.dcm'), makeDicom({ rows: 40, columns: 30 }));
      await dcmtk('dcmcjpls', [path.join(dir, 'a.dcm'), path.join(dir, 'b.dcm')]);
      const file = new Uint8Array(await readFile(path.join(dir, 'b.dcm')));
      const here = await renderDicomFrame(file, LIMITS);
      for (let i = 0; i < 2; i++) {
        const there = await pool.render(new Uint8Array(file), LIMITS);
        expect([there.width, there.height, there.channels]).toEqual([30, 40, 1]);
        expect(Buffer.from(there.pixels).equals(Buffer.from(here.pixels))).toBe(true);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a refusal in the worker arrives as the same DomainError', async () => {
    await expect(pool.render(new Uint8Array(300), LIMITS)).rejects.toMatchObject({ code: 'not_renderable' });
  });

  it('a render past its time is given up (the worker ended), and the next one still works', async () => {
    const big = new Uint8Array(makeDicom({ rows: 1500, columns: 1500 }));
    await expect(pool.render(big, LIMITS, undefined, 1)).rejects.toMatchObject({ code: 'not_renderable' });
    const small = await pool.render(new Uint8Array(makeDicom({ rows: 8, columns: 8 })), LIMITS);
    expect(small.width).toBe(8);
  });
});
