import type { Child } from '../lib/child.ts';
import { fetchUploadKey, postUploader, tusUploader, type Uploader } from '../lib/clients.ts';
import { MB, MiB } from '../lib/stats.ts';
import type { BenchContext } from './context.ts';

export const CONCURRENT = 8;

/** Peak RSS of `child` while `work` runs, sampled from /proc every 10 ms. */
async function peakDuring(child: Child, work: () => Promise<unknown>): Promise<number> {
  let peak = (await child.memory()).rss;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, (await child.memory()).rss);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  try {
    await work();
  } finally {
    sampling = false;
    await sampler;
  }
  return peak;
}

async function round<P>(child: Child, u: Uploader<P>, ctx: BenchContext): Promise<number> {
  const prepared = await Promise.all(
    Array.from({ length: CONCURRENT }, () => {
      const v = ctx.files.f50.variant();
      return u.prepare(v.parts, v.label);
    }),
  );
  return peakDuring(child, () => Promise.all(prepared.map((p) => u.send(p))));
}

/**
 * Figure 5: peak resident memory of a fresh server process during 8 concurrent uploads of the
 * 50 MB DICOM, through tus (8 MiB chunks, the edge's door) and through POST /xrays.
 */
export async function runMemory(ctx: BenchContext, server: { url: string; child: Child }): Promise<void> {
  const key = await fetchUploadKey(server.url);
  const tus = tusUploader(server.url, ctx.sync.paramedic, key, 8 * MiB);
  const post = postUploader(server.url, ctx.sync.paramedic);
  // One upload through each door first: the baseline is the server's steady state, not its start.
  {
    const v = ctx.files.f18.variant();
    await post.send(await post.prepare(v.parts, v.label));
    const w = ctx.files.f18.variant();
    await tus.send(await tus.prepare(w.parts, w.label));
  }
  const baseline = (await server.child.memory()).rss / MB;
  const peaks: Record<'tus' | 'post', number[]> = { tus: [], post: [] };
  for (let r = 0; r < ctx.runs; r++) {
    peaks.tus.push((await round(server.child, tus, ctx)) / MB);
    peaks.post.push((await round(server.child, post, ctx)) / MB);
    ctx.log(`memory round ${r + 1}/${ctx.runs} done`);
  }
  const hwm = (await server.child.memory()).hwm / MB;
  const note = `Memory: RSS of the fresh server process ${baseline.toFixed(0)} MB after one warm-up upload per door; VmHWM over the whole run ${hwm.toFixed(0)} MB`;
  ctx.rows.push(
    {
      id: 'rss-tus',
      figure: 'Memory',
      label: `peak server RSS, ${CONCURRENT} × 50 MB at once, tus 8 MiB chunks`,
      unit: 'MB',
      ours: peaks.tus,
      ratios: false,
      note,
    },
    {
      id: 'rss-post',
      figure: 'Memory',
      label: `peak server RSS, ${CONCURRENT} × 50 MB at once, POST /xrays`,
      unit: 'MB',
      ours: peaks.post,
      ratios: false,
      note,
    },
  );
}
