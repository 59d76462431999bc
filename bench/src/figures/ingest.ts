import { mbPerS, MiB } from '../lib/stats.ts';
import {
  fetchUploadKey,
  orthancUploader,
  postUploader,
  rawUploader,
  tusLimitUploader,
  tusUploader,
  verifiedRawUploader,
  type Uploader,
} from '../lib/clients.ts';
import type { Row } from '../lib/results.ts';
import type { XrayFile } from '../lib/workload.ts';
import { marked, rotate, type BenchContext } from './context.ts';

type Kind = 'raw' | 'verified' | 'tuslimit8' | 'post' | 'tus5' | 'tus8' | 'orthanc';
type Limit = 'raw' | 'verified' | 'orthanc';

/** `clients` uploads of `file` at once; MB/s of all of them together, from first byte to last answer. */
export async function measure<P>(
  u: Uploader<P>,
  file: XrayFile,
  clients: number,
): Promise<{ mbps: number; ids: string[] }> {
  const prepared = await Promise.all(
    Array.from({ length: clients }, () => {
      const v = file.variant();
      return u.prepare(v.parts, v.label);
    }),
  );
  const started = performance.now();
  const ids = await Promise.all(prepared.map((p) => u.send(p)));
  return { mbps: mbPerS(clients * file.size, performance.now() - started), ids };
}

const LABELS: Record<Exclude<Kind, Limit>, string> = {
  tuslimit8:
    'the tus limit (bare Node: the same tus requests and verification, no auth, database or audit), 8 MiB chunks',
  post: 'POST /xrays',
  tus5: 'tus, 5 MiB chunks',
  tus8: 'tus, 8 MiB chunks',
};

/**
 * Figure 1 and 2: ingest MB/s through each door, against the bare Node server (the raw limit: the
 * bytes to disk; the verified limit: XRE1 to disk, each segment decrypted and the plaintext hashed
 * on the way, the least our server must do) and Orthanc, all measured in the same round.
 */
export async function runIngest(ctx: BenchContext): Promise<void> {
  const { sync } = ctx;
  const key = await fetchUploadKey(sync.url);
  type Measure = (file: XrayFile, clients: number) => Promise<{ mbps: number; ids: string[] }>;
  const contender =
    <P>(u: Uploader<P>): Measure =>
    (file, clients) =>
      measure(u, file, clients);
  const contenders: Partial<Record<Kind, Measure>> = {
    raw: contender(rawUploader(ctx.raw.url)),
    verified: contender(verifiedRawUploader(ctx.raw.url)),
    tuslimit8: contender(tusLimitUploader(ctx.raw.url, 8 * MiB)),
    post: contender(postUploader(sync.url, sync.paramedic)),
    tus5: contender(tusUploader(sync.url, sync.paramedic, key, 5 * MiB)),
    tus8: contender(tusUploader(sync.url, sync.paramedic, key, 8 * MiB)),
    ...(ctx.orthanc ? { orthanc: contender(orthancUploader(ctx.orthanc.url, ctx.orthanc.authorization)) } : {}),
  };
  const cases: { file: XrayFile; clients: number; kinds: Kind[] }[] = [
    { file: ctx.files.f18, clients: 1, kinds: ['raw', 'verified', 'tuslimit8', 'post', 'tus5', 'tus8', 'orthanc'] },
    { file: ctx.files.f18, clients: 4, kinds: ['raw', 'verified', 'tuslimit8', 'post', 'tus5', 'tus8', 'orthanc'] },
    { file: ctx.files.f50, clients: 1, kinds: ['raw', 'verified', 'tuslimit8', 'post', 'tus8', 'orthanc'] },
  ];
  const results = new Map<string, number[]>();
  const put = (k: string, v: number) => results.set(k, [...(results.get(k) ?? []), v]);

  // Warm-up (not recorded): JIT, connections, database and page caches on every path.
  for (const kind of ['raw', 'verified', 'tuslimit8', 'post', 'tus5', 'tus8', 'orthanc'] as const)
    await contenders[kind]?.(ctx.files.f18, 1);
  for (let round = 0; round < ctx.runs; round++) {
    for (const c of cases) {
      for (const kind of rotate(c.kinds, round)) {
        const run = contenders[kind];
        if (!run) continue;
        const { mbps, ids } = await marked(ctx, `ingest ${c.file.name} ${c.clients} ${kind}`, () =>
          run(c.file, c.clients),
        );
        put(`${c.file.name}-${c.clients}-${kind}`, mbps);
        const id = ids[0];
        if (c.clients === 1 && id) {
          const big = c.file === ctx.files.f50;
          if (kind === 'raw') ctx.ids[big ? 'raw50' : 'raw18'] = id;
          if (kind === 'post') ctx.ids[big ? 'sync50' : 'sync18'] = id;
          if (kind === 'orthanc') ctx.ids[big ? 'orthanc50' : 'orthanc18'] = id;
        }
      }
    }
    ctx.log(`ingest round ${round + 1}/${ctx.runs} done`);
  }
  for (const c of cases) {
    const mb = c.file === ctx.files.f50 ? 50 : 18;
    for (const kind of c.kinds) {
      if (kind === 'raw' || kind === 'verified' || kind === 'orthanc') continue;
      const k = (x: Kind) => `${c.file.name}-${c.clients}-${x}`;
      const row: Row = {
        id: `ingest-${mb}-${c.clients}-${kind}`,
        figure: 'Ingest',
        label: `${LABELS[kind]}, ${mb} MB, ${c.clients} client${c.clients > 1 ? 's' : ''}`,
        unit: 'MB/s',
        ours: results.get(k(kind)) ?? [],
        raw: results.get(k('raw')),
        verified: results.get(k('verified')),
        orthanc: results.get(k('orthanc')),
        ratios: true,
      };
      ctx.rows.push(row);
    }
  }
}
