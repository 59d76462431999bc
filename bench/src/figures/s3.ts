import { fetchUploadKey, postUploader, rawUploader, tusUploader } from '../lib/clients.ts';
import { request } from '../lib/http.ts';
import { MiB } from '../lib/stats.ts';
import { measure } from './ingest.ts';
import type { BenchContext } from './context.ts';

/**
 * Ingest with S3 object storage (when S3_* is configured), one client, 18 MB. A side figure:
 * its speed is the store's (Swift s3api on one machine is single-worker Python), not the server's.
 */
export async function runS3Ingest(ctx: BenchContext, server: { url: string }, store: string): Promise<void> {
  const key = await fetchUploadKey(server.url);
  const post = postUploader(server.url, ctx.sync.paramedic);
  const tus = tusUploader(server.url, ctx.sync.paramedic, key, 8 * MiB);
  const raw = rawUploader(ctx.raw.url);
  const f = ctx.files.f18;
  const results: Record<'post' | 'tus' | 'raw', number[]> = { post: [], tus: [], raw: [] };
  const ids: string[] = [];
  for (let round = 0; round < ctx.runs; round++) {
    results.raw.push((await measure(raw, f, 1)).mbps);
    const p = await measure(post, f, 1);
    const t = await measure(tus, f, 1);
    results.post.push(p.mbps);
    results.tus.push(t.mbps);
    ids.push(...p.ids, ...t.ids);
    ctx.log(`S3 ingest round ${round + 1}/${ctx.runs} done`);
  }
  // Leave the bucket as we found it: remove what we stored, through the API.
  for (const id of ids)
    await request(`${server.url}/xrays/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ctx.sync.admin}` },
    });
  const note = `S3 storage: ${store}; raw column: the bare Node server writing to local disk`;
  ctx.rows.push(
    {
      id: 's3-post',
      figure: 'Ingest (S3)',
      label: 'POST /xrays to S3 storage, 18 MB, 1 client',
      unit: 'MB/s',
      ours: results.post,
      raw: results.raw,
      ratios: true,
      note,
    },
    {
      id: 's3-tus8',
      figure: 'Ingest (S3)',
      label: 'tus 8 MiB chunks to S3 storage, 18 MB, 1 client',
      unit: 'MB/s',
      ours: results.tus,
      raw: results.raw,
      ratios: true,
      note,
    },
  );
}
