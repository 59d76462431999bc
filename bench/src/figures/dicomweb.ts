import { randomUUID } from 'node:crypto';
import { makeDicom } from '@xray/testkit';
import { PATIENT_ID } from '../lib/clients.ts';
import { expectStatus, json, request, type HttpResult } from '../lib/http.ts';
import { summarize } from '../lib/stats.ts';
import { marked, rotate, type BenchContext } from './context.ts';
import { CONNECTIONS, load, type Load } from './metadata.ts';

/** Studies stored on both sides (one instance each): what the study list pages through. */
export const DICOMWEB_STUDIES = 24;
/** A name every study of this figure shares, and only they: the list query matches it with a wildcard. */
const NAME_PREFIX = 'DICOMWEB';
/** The study list a viewer asks for (OHIF's default query, narrowed by patient name). */
const STUDY_LIST = `/dicom-web/studies?PatientName=${NAME_PREFIX}*&limit=25&offset=0&fuzzymatching=false&includefield=00081030%2C00080060`;
/** Sequential requests for one thumbnail already rendered once (cached on our side). */
const CACHED_REPEATS = 10;
const THUMBNAIL_SIZE = 128;

interface Side {
  key: 'ours' | 'orthanc';
  name: string;
  base: string;
  /** Who reads (a doctor's JWT; Orthanc's basic auth). */
  read: Record<string, string>;
  /** Who stores (an admin's JWT; Orthanc's basic auth). */
  store: Record<string, string>;
  /** The path after an instance's URL that gives its thumbnail. */
  thumbnail: string;
  cpu: number[];
}

interface Instance {
  study: string;
  series: string;
  sop: string;
}

/** STOW-RS of one DICOM file; the instance's UIDs from the answer. */
async function stow(side: Side, bytes: Buffer): Promise<Instance> {
  const boundary = `xray-bench-${randomUUID()}`;
  const res = await request(`${side.base}/dicom-web/studies`, {
    method: 'POST',
    headers: {
      ...side.store,
      accept: 'application/dicom+json',
      'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
    },
    body: [
      Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`),
      bytes,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ],
  });
  const answer = json<Record<string, { Value?: Record<string, { Value?: string[] }>[] }>>(
    expectStatus(`${side.name} STOW-RS`, res, 200),
  );
  const url = answer['00081199']?.Value?.[0]?.['00081190']?.Value?.[0];
  const m = url ? /\/studies\/([^/]+)\/series\/([^/]+)\/instances\/([^/?]+)/.exec(url) : null;
  if (!m?.[1] || !m[2] || !m[3]) throw new Error(`${side.name} STOW-RS: no RetrieveURL in ${JSON.stringify(answer)}`);
  return { study: m[1], series: m[2], sop: m[3] };
}

async function thumbnail(side: Side, i: Instance): Promise<{ ms: number; res: HttpResult }> {
  const url = `${side.base}/dicom-web/studies/${i.study}/series/${i.series}/instances/${i.sop}${side.thumbnail}`;
  const t = performance.now();
  const res = await request(url, { headers: { ...side.read, accept: 'image/jpeg' } });
  const ms = performance.now() - t;
  expectStatus(`${side.name} thumbnail`, res, 200);
  if (!String(res.headers['content-type']).startsWith('image/jpeg') || res.body.length < 100)
    throw new Error(`${side.name} thumbnail: ${res.headers['content-type']}, ${res.body.length} bytes`);
  return { ms, res };
}

/**
 * The DICOMweb figure: the sync server next to Orthanc's DICOMweb plugin, each holding the same
 * studies (stored through each one's STOW-RS). QIDO-RS requests/s for a viewer's study list under
 * load, and thumbnail latency of an instance never rendered (cold) and of one rendered before
 * (cached). Orthanc's plugin (Debian 1.7) has no /thumbnail: its /rendered with a 128×128
 * viewport is the same image.
 */
export async function runDicomweb(ctx: BenchContext, seconds: number): Promise<void> {
  const sides: Side[] = [
    {
      key: 'ours',
      name: 'sync server',
      base: ctx.sync.url,
      read: { authorization: `Bearer ${ctx.sync.doctor}` },
      // An import from a PACS, not an edge device (a paramedic's token must be DPoP-bound): an admin's.
      store: { authorization: `Bearer ${ctx.sync.admin}` },
      thumbnail: '/thumbnail',
      cpu: ctx.cpu.ours,
    },
  ];
  if (ctx.orthanc?.dicomweb)
    sides.push({
      key: 'orthanc',
      name: 'Orthanc DICOMweb',
      base: ctx.orthanc.url,
      read: { authorization: ctx.orthanc.authorization },
      store: { authorization: ctx.orthanc.authorization },
      thumbnail: `/rendered?viewport=${THUMBNAIL_SIZE},${THUMBNAIL_SIZE}`,
      cpu: ctx.cpu.orthanc,
    });

  // The same studies on each side: 1024×1024 16-bit DX images, a patient name each.
  const instances = new Map<Side['key'], Instance[]>();
  for (let n = 0; n < DICOMWEB_STUDIES; n++) {
    const bytes = makeDicom({
      rows: 1024,
      columns: 1024,
      seed: 7000 + n,
      patientId: PATIENT_ID,
      patientName: `${NAME_PREFIX}^BENCH${String(n).padStart(2, '0')}`,
    });
    for (const side of sides) instances.set(side.key, [...(instances.get(side.key) ?? []), await stow(side, bytes)]);
  }
  ctx.log(`dicomweb: ${DICOMWEB_STUDIES} studies stored on ${sides.map((s) => s.name).join(' and ')}`);

  // A wrong answer is not a fast one: each side lists every study of the figure.
  for (const side of sides) {
    const res = expectStatus(
      `${side.name} QIDO-RS`,
      await request(`${side.base}${STUDY_LIST}`, { headers: side.read }),
      200,
    );
    const found = json<unknown[]>(res).length;
    if (found !== DICOMWEB_STUDIES)
      throw new Error(`${side.name} QIDO-RS: ${found} studies for the list query, expected ${DICOMWEB_STUDIES}`);
  }

  // QIDO-RS under load: warm-up (not recorded), then rounds in rotated order.
  for (const side of sides) await load(side.name, `${side.base}${STUDY_LIST}`, side.read, 2, side.cpu);
  const qido = new Map<Side['key'], Load[]>();
  for (let round = 0; round < ctx.runs; round++) {
    for (const side of rotate(sides, round))
      qido.set(side.key, [
        ...(qido.get(side.key) ?? []),
        await marked(ctx, `dicomweb qido ${side.key}`, () =>
          load(side.name, `${side.base}${STUDY_LIST}`, side.read, seconds, side.cpu),
        ),
      ]);
    ctx.log(`dicomweb QIDO round ${round + 1}/${ctx.runs} done`);
  }

  // Thumbnails: per round, a few instances never rendered (cold), then one of them again and again (cached).
  const perRound = Math.max(1, Math.min(4, Math.floor(DICOMWEB_STUDIES / ctx.runs)));
  const cold = new Map<Side['key'], number[]>();
  const cached = new Map<Side['key'], number[]>();
  for (let round = 0; round < ctx.runs; round++) {
    for (const side of rotate(sides, round)) {
      const fresh = (instances.get(side.key) ?? []).slice(round * perRound, (round + 1) * perRound);
      const coldMs: number[] = [];
      for (const i of fresh) coldMs.push((await thumbnail(side, i)).ms);
      const again = fresh[0];
      const cachedMs: number[] = [];
      if (again) for (let k = 0; k < CACHED_REPEATS; k++) cachedMs.push((await thumbnail(side, again)).ms);
      cold.set(side.key, [...(cold.get(side.key) ?? []), summarize(coldMs).median]);
      cached.set(side.key, [...(cached.get(side.key) ?? []), summarize(cachedMs).median]);
    }
    ctx.log(`dicomweb thumbnail round ${round + 1}/${ctx.runs} done`);
  }

  const of = (m: Map<Side['key'], Load[]>, k: Side['key'], f: keyof Load) => m.get(k)?.map((l) => l[f]);
  const label = `QIDO-RS study list (PatientName wildcard, includefield, limit 25 of ${DICOMWEB_STUDIES})`;
  ctx.rows.push(
    {
      id: 'dicomweb-qido-rps',
      figure: 'DICOMweb',
      label: `${label}, ${CONNECTIONS} connections`,
      unit: 'req/s',
      ours: of(qido, 'ours', 'rps') ?? [],
      orthanc: of(qido, 'orthanc', 'rps'),
      ratios: true,
    },
    {
      id: 'dicomweb-qido-p99',
      figure: 'DICOMweb',
      label: `${label}, p99 latency`,
      unit: 'ms',
      ours: of(qido, 'ours', 'p99') ?? [],
      orthanc: of(qido, 'orthanc', 'p99'),
      ratios: false,
    },
    {
      id: 'dicomweb-qido-cpu',
      figure: 'DICOMweb',
      label: `${label}, CPU per request`,
      unit: 'µs',
      ours: of(qido, 'ours', 'cpuUs') ?? [],
      orthanc: of(qido, 'orthanc', 'cpuUs'),
      ratios: false,
    },
    {
      id: 'dicomweb-thumb-cold',
      figure: 'DICOMweb',
      label: `Thumbnail (${THUMBNAIL_SIZE} px JPEG) of a 1024×1024 instance never rendered, latency`,
      unit: 'ms',
      ours: cold.get('ours') ?? [],
      orthanc: cold.get('orthanc'),
      ratios: false,
    },
    {
      id: 'dicomweb-thumb-cached',
      figure: 'DICOMweb',
      label: `Thumbnail of an instance rendered before (cached on our side), latency`,
      unit: 'ms',
      ours: cached.get('ours') ?? [],
      orthanc: cached.get('orthanc'),
      ratios: false,
    },
  );
}
