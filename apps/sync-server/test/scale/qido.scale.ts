import { randomUUID } from 'node:crypto';
import { makeDicom } from '@xray/testkit';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { blobOf, headerActor, postXray, startTestServer, validMetadata, type TestServer } from '../harness.ts';

/**
 * QIDO-RS over a large index: a measurement, not a test (`node scripts/pnpm.mjs --filter @xray/sync-server run scale`;
 * SCALE_INSTANCES sets the size). One DICOM X-ray is stored, then copied in SQL to N
 * instances (4 per study, 2,000 patients, 50 paramedics), analyzed, and each query asked 7 times;
 * the median is printed. Not part of `npm test`.
 */
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer('fs', {}, { authenticate: headerActor });
});
afterAll(() => server?.close());

/** The columns of `table` but `except`, as a list. */
async function columnsOf(table: string, except: string[]): Promise<string[]> {
  const { rows } = await server.pool.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns WHERE table_name = $1 AND NOT column_name = ANY($2)
      ORDER BY ordinal_position`,
    [table, except],
  );
  return rows.map((r) => r.column_name);
}

it('QIDO-RS over a large index', async () => {
  const n = Number(process.env.SCALE_INSTANCES ?? 20_000);
  const srcId = randomUUID();
  const bytes = makeDicom({ rows: 8, columns: 8, seed: 1, patientId: 'P-SCALE' });
  const res = await postXray(server.url, validMetadata({ id: srcId, patientId: 'P-SCALE' }), blobOf(bytes), {
    'X-Test-Actor': 'm0; paramedic',
  });
  expect(res.status).toBe(201);
  const xCols = await columnsOf('xrays', ['id', 'object_key', 'patient_id', 'captured_by_sub', 'change_seq']);
  const dCols = await columnsOf('dicom_instances', ['xray_id', 'study_uid', 'series_uid', 'sop_uid', 'indexed_at']);
  // As the database's owner: the app's role may not ANALYZE, and its pool's query timeout is short.
  const owner = new pg.Client({ connectionString: server.config.db.ownerUrl ?? server.config.db.url });
  await owner.connect();
  try {
    await owner.query(`CREATE TEMP TABLE ids AS SELECT gen_random_uuid() AS id, g FROM generate_series(1, ${n}) g`);
    await owner.query(
      `INSERT INTO xrays (id, object_key, patient_id, captured_by_sub, ${xCols.join(', ')})
       SELECT i.id, 'scale/' || i.id, 'P-' || (i.g % 2000), 'm' || (i.g % 50), ${xCols.map((c) => `x.${c}`).join(', ')}
         FROM ids i, xrays x WHERE x.id = $1`,
      [srcId],
    );
    await owner.query(
      `INSERT INTO dicom_instances (xray_id, study_uid, series_uid, sop_uid, indexed_at, ${dCols.join(', ')})
       SELECT i.id, '1.2.3.' || (i.g / 4), '1.2.3.' || (i.g / 4) || '.1', '1.2.3.' || i.g || '.9', now(),
              ${dCols.map((c) => `d.${c}`).join(', ')}
         FROM ids i, dicom_instances d WHERE d.xray_id = $1`,
      [srcId],
    );
    await owner.query('ANALYZE');
  } finally {
    await owner.end();
  }
  const time = async (path: string, actor: string) => {
    const ms: number[] = [];
    for (let i = 0; i < 7; i++) {
      const start = performance.now();
      const r = await fetch(`${server.url}/dicom-web${path}`, {
        headers: { 'X-Test-Actor': actor, Accept: 'application/dicom+json' },
      });
      expect(r.status).toBeLessThan(300);
      await r.arrayBuffer();
      ms.push(performance.now() - start);
    }
    ms.sort((a, b) => a - b);
    console.log(`${n} instances, ${actor.split(';')[1]!.trim()}, ${path}: median ${ms[3]!.toFixed(1)} ms`);
  };
  await time('/studies?StudyInstanceUID=1.2.3.777', 'd; doctor');
  await time('/studies?PatientID=P-77', 'd; doctor');
  await time('/studies/1.2.3.777/series', 'd; doctor');
  await time('/instances?SOPInstanceUID=1.2.3.777.9', 'd; doctor');
  await time('/studies?PatientName=TEST*&limit=25', 'd; doctor');
  await time('/studies?limit=25', 'd; doctor');
  await time('/studies?StudyInstanceUID=1.2.3.777', 'm7; paramedic');
});
