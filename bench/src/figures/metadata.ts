import autocannon from 'autocannon';
import { PATIENT_ID } from '../lib/clients.ts';
import { expectStatus, request } from '../lib/http.ts';
import { treeCpuMs } from '../lib/cpu.ts';
import { marked, rotate, type BenchContext } from './context.ts';

export const CONNECTIONS = 16;
export const LIST_LIMIT = 10;

export interface Load {
  rps: number;
  p50: number;
  p99: number;
  /** CPU time of the server's processes (ours: sync server + PostgreSQL) per request, µs. */
  cpuUs: number;
  /** The part of cpuUs spent by the processes after the first root (ours: PostgreSQL), µs. */
  restCpuUs: number;
}

/** `seconds` of load at 16 connections; any non-2xx or error fails the benchmark (a wrong answer is not a fast one). */
export async function load(
  name: string,
  url: string,
  headers: Record<string, string>,
  seconds: number,
  cpuRoots: readonly number[],
  /** Paths each connection requests in turn (else `url`'s, again and again). */
  paths?: readonly string[],
): Promise<Load> {
  const rest = cpuRoots.slice(1);
  const [cpuBefore, restBefore] = await Promise.all([treeCpuMs(cpuRoots), treeCpuMs(rest)]);
  const r = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    headers,
    ...(paths ? { requests: paths.map((path) => ({ method: 'GET' as const, path })) } : {}),
  });
  const [cpuAfter, restAfter] = await Promise.all([treeCpuMs(cpuRoots), treeCpuMs(rest)]);
  const cpuMs = cpuAfter - cpuBefore;
  if (r.non2xx || r.errors || r.timeouts)
    throw new Error(`${name}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts under load`);
  return {
    rps: r.requests.total / (r.duration || seconds),
    p50: r.latency.p50,
    p99: r.latency.p99,
    cpuUs: cpuRoots.length && r.requests.total ? (cpuMs * 1000) / r.requests.total : Number.NaN,
    restCpuUs: rest.length && r.requests.total ? ((restAfter - restBefore) * 1000) / r.requests.total : Number.NaN,
  };
}

/** The same server on another Node.js (the machine's, while it differs from the LTS): same database and storage. */
export interface OtherNode {
  /** e.g. "node20" */
  key: string;
  /** e.g. "Node.js 20.20.2" */
  name: string;
  url: string;
  cpu: number[];
}

/**
 * Figure 3: metadata reads under 16 concurrent connections, every request with its JWT checked
 * (and, by design, audited), against Orthanc's simplified tags of one instance; with `other`,
 * the same reads from a second instance of the bundle on another Node.js, in the same rounds.
 */
export async function runMetadata(ctx: BenchContext, seconds: number, other?: OtherNode): Promise<void> {
  const id = ctx.ids.sync18;
  if (!id) throw new Error('metadata: ingest left no X-ray id');
  const doctor = { authorization: `Bearer ${ctx.sync.doctor}` };
  const listUrl = `${ctx.sync.url}/xrays?patientId=${PATIENT_ID}&limit=${LIST_LIMIT}`;
  const list = expectStatus('GET /xrays?patientId=', await request(listUrl, { headers: doctor }), 200);
  const listed = (JSON.parse(list.body.toString()) as { items: { id: string }[] }).items;
  const items = listed.length;
  if (items < LIST_LIMIT) throw new Error(`metadata: the list has ${items} X-rays, expected ${LIST_LIMIT}`);
  // The single reads go round the patient's X-rays (a doctor opens one after another), not one id
  // over and over: reads that arrive together are fetched together, and ten ids keep that honest.
  const getPaths = listed.map((x) => `/xrays/${x.id}`);
  const read = expectStatus('GET /xrays/{id}', await request(`${ctx.sync.url}/xrays/${id}`, { headers: doctor }), 200);
  // The limits answer the very JSON the sync server answered (see the NOTES of main.ts).
  const json = { 'content-type': 'application/json' };
  expectStatus(
    'raw limit PUT /json',
    await request(`${ctx.raw.url}/json/xray`, { method: 'PUT', headers: json, body: [read.body] }),
    204,
  );
  expectStatus(
    'Express floor PUT /body',
    await request(`${ctx.floor.url}/body`, { method: 'PUT', headers: json, body: [read.body] }),
    204,
  );

  const contenders: {
    key: string;
    name: string;
    url: string;
    headers: Record<string, string>;
    cpu: number[];
    paths?: readonly string[];
  }[] = [
    {
      key: 'get',
      name: 'GET /xrays/{id}',
      url: `${ctx.sync.url}/xrays/${id}`,
      headers: doctor,
      cpu: ctx.cpu.ours,
      paths: getPaths,
    },
    { key: 'list', name: 'GET /xrays?patientId=', url: listUrl, headers: doctor, cpu: ctx.cpu.ours },
    { key: 'raw', name: 'raw limit', url: `${ctx.raw.url}/json/xray`, headers: {}, cpu: ctx.cpu.raw },
    { key: 'floor', name: 'Express floor', url: `${ctx.floor.url}/xrays/${id}`, headers: {}, cpu: ctx.cpu.floor },
  ];
  if (other) {
    const otherList = listUrl.replace(ctx.sync.url, other.url);
    expectStatus(`GET /xrays?patientId= on ${other.name}`, await request(otherList, { headers: doctor }), 200);
    contenders.push(
      {
        key: `get-${other.key}`,
        name: `GET /xrays/{id} on ${other.name}`,
        url: `${other.url}/xrays/${id}`,
        headers: doctor,
        cpu: other.cpu,
        paths: getPaths,
      },
      {
        key: `list-${other.key}`,
        name: `GET /xrays?patientId= on ${other.name}`,
        url: otherList,
        headers: doctor,
        cpu: other.cpu,
      },
    );
  }
  const orthanc = ctx.orthanc;
  const instance = ctx.ids.orthanc18;
  if (orthanc && instance) {
    const url = `${orthanc.url}/instances/${instance}/simplified-tags`;
    const headers = { authorization: orthanc.authorization };
    expectStatus('Orthanc simplified-tags', await request(url, { headers }), 200);
    contenders.push({ key: 'orthanc', name: 'Orthanc simplified-tags', url, headers, cpu: ctx.cpu.orthanc });
  }
  // Warm-up (not recorded): JIT, connection pools, caches.
  for (const c of contenders) await load(c.name, c.url, c.headers, 2, c.cpu, c.paths);
  const results = new Map<string, Load[]>();
  for (let round = 0; round < ctx.runs; round++) {
    for (const c of rotate(contenders, round))
      results.set(c.key, [
        ...(results.get(c.key) ?? []),
        await marked(ctx, `metadata ${c.key}`, () => load(c.name, c.url, c.headers, seconds, c.cpu, c.paths)),
      ]);
    ctx.log(`metadata round ${round + 1}/${ctx.runs} done`);
  }
  const of = (k: string, f: keyof Load) => results.get(k)?.map((l) => l[f]);
  const kinds: [string, string][] = [
    ['get', 'GET /xrays/{id}'],
    ['floor', 'Express 5 answering the same JSON, nothing else (the floor)'],
    ['list', `GET /xrays?patientId= (page of ${LIST_LIMIT})`],
  ];
  if (other)
    kinds.push(
      [`get-${other.key}`, `GET /xrays/{id} on ${other.name}`],
      [`list-${other.key}`, `GET /xrays?patientId= (page of ${LIST_LIMIT}) on ${other.name}`],
    );
  for (const [key, label] of kinds) {
    ctx.rows.push(
      {
        id: `meta-${key}-rps`,
        figure: 'Metadata',
        label: `${label}, ${CONNECTIONS} connections`,
        unit: 'req/s',
        ours: of(key, 'rps') ?? [],
        ...(key === 'get' || key === 'floor' ? { raw: of('raw', 'rps') } : {}),
        orthanc: of('orthanc', 'rps'),
        ratios: true,
      },
      {
        id: `meta-${key}-p50`,
        figure: 'Metadata',
        label: `${label}, p50 latency`,
        unit: 'ms',
        ours: of(key, 'p50') ?? [],
        orthanc: of('orthanc', 'p50'),
        ratios: false,
      },
      {
        id: `meta-${key}-p99`,
        figure: 'Metadata',
        label: `${label}, p99 latency`,
        unit: 'ms',
        ours: of(key, 'p99') ?? [],
        orthanc: of('orthanc', 'p99'),
        ratios: false,
      },
      {
        id: `meta-${key}-cpu`,
        figure: 'Metadata',
        label: `${label}, CPU per request`,
        unit: 'µs',
        ours: of(key, 'cpuUs') ?? [],
        ...(key === 'get' || key === 'floor' ? { raw: of('raw', 'cpuUs') } : {}),
        orthanc: of('orthanc', 'cpuUs'),
        ratios: false,
      },
    );
    // Where our CPU goes: the database's part of the figure above (the rest is the sync server's).
    if (!key.startsWith('floor'))
      ctx.rows.push({
        id: `meta-${key}-cpu-pg`,
        figure: 'Metadata',
        label: `${label}, of which PostgreSQL`,
        unit: 'µs',
        ours: of(key, 'restCpuUs') ?? [],
        ratios: false,
      });
  }
}
