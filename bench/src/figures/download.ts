import { fetchCounting } from '../lib/http.ts';
import { mbPerS, MiB } from '../lib/stats.ts';
import type { Row } from '../lib/results.ts';
import { marked, rotate, type BenchContext } from './context.ts';

/** A range that starts mid-segment and crosses four XRE1 segment boundaries. */
const RANGE_START = 5_000_003;
const RANGE_LENGTH = 4 * MiB;

interface Get {
  key: string;
  url: string;
  headers: Record<string, string>;
  expect: number;
  status: number;
}

/** `times` downloads one after the other; MB/s over all bytes. The byte count must match. */
async function download(g: Get, times: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < times; i++) {
    const res = await fetchCounting(g.url, { headers: g.headers });
    if (res.status !== g.status || res.bytes !== g.expect)
      throw new Error(`${g.key}: HTTP ${res.status}, ${res.bytes} bytes (expected ${g.status}, ${g.expect})`);
  }
  return mbPerS(times * g.expect, performance.now() - started);
}

/**
 * Figure 4: download MB/s of the same file from the sync server (streaming XRE1 decryption),
 * the bare Node server (the raw read) and Orthanc (/instances/{id}/file); full and Range.
 */
export async function runDownload(ctx: BenchContext): Promise<void> {
  const { ids } = ctx;
  if (!ids.sync18 || !ids.raw18 || !ids.sync50 || !ids.raw50) throw new Error('download: ingest left no ids');
  const doctor = { authorization: `Bearer ${ctx.sync.doctor}` };
  const range = { range: `bytes=${RANGE_START}-${RANGE_START + RANGE_LENGTH - 1}` };
  const o = ctx.orthanc;
  const f18 = ctx.files.f18.size;
  const f50 = ctx.files.f50.size;
  const cases: { id: string; label: string; times: number; gets: Get[] }[] = [
    {
      id: 'download-18-full',
      label: 'full file, 18 MB',
      times: 3,
      gets: [
        { key: 'ours', url: `${ctx.sync.url}/xrays/${ids.sync18}/download`, headers: doctor, expect: f18, status: 200 },
        { key: 'raw', url: `${ctx.raw.url}/files/${ids.raw18}`, headers: {}, expect: f18, status: 200 },
        ...(o && ids.orthanc18
          ? [
              {
                key: 'orthanc',
                url: `${o.url}/instances/${ids.orthanc18}/file`,
                headers: { authorization: o.authorization },
                expect: f18,
                status: 200,
              },
            ]
          : []),
      ],
    },
    {
      id: 'download-18-range',
      label: 'Range of 4 MiB across segments',
      times: 5,
      gets: [
        {
          key: 'ours',
          url: `${ctx.sync.url}/xrays/${ids.sync18}/download`,
          headers: { ...doctor, ...range },
          expect: RANGE_LENGTH,
          status: 206,
        },
        { key: 'raw', url: `${ctx.raw.url}/files/${ids.raw18}`, headers: range, expect: RANGE_LENGTH, status: 206 },
      ],
    },
    {
      id: 'download-50-full',
      label: 'full file, 50 MB',
      times: 1,
      gets: [
        { key: 'ours', url: `${ctx.sync.url}/xrays/${ids.sync50}/download`, headers: doctor, expect: f50, status: 200 },
        { key: 'raw', url: `${ctx.raw.url}/files/${ids.raw50}`, headers: {}, expect: f50, status: 200 },
        ...(o && ids.orthanc50
          ? [
              {
                key: 'orthanc',
                url: `${o.url}/instances/${ids.orthanc50}/file`,
                headers: { authorization: o.authorization },
                expect: f50,
                status: 200,
              },
            ]
          : []),
      ],
    },
  ];
  const results = new Map<string, number[]>();
  for (const c of cases) for (const g of c.gets) await download(g, 1); // warm-up
  for (let round = 0; round < ctx.runs; round++) {
    for (const c of cases)
      for (const g of rotate(c.gets, round)) {
        const k = `${c.id}-${g.key}`;
        results.set(k, [...(results.get(k) ?? []), await marked(ctx, `${c.id} ${g.key}`, () => download(g, c.times))]);
      }
    ctx.log(`download round ${round + 1}/${ctx.runs} done`);
  }
  for (const c of cases) {
    const row: Row = {
      id: c.id,
      figure: 'Download',
      label: c.label,
      unit: 'MB/s',
      ours: results.get(`${c.id}-ours`) ?? [],
      raw: results.get(`${c.id}-raw`),
      orthanc: results.get(`${c.id}-orthanc`),
      ratios: true,
    };
    ctx.rows.push(row);
  }
}
