// finalize writes the X-ray's recovery record while its DICOMweb index goes in (both before the
// change-feed counter and the COMMIT). Whichever fails, nothing of the X-ray stays: no row, no
// index row, no object, no record, even when the record is still being written as the index fails.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeDicom, makePng } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  asOwner,
  blobOf,
  countRows,
  headerActor,
  postXray,
  startTestServer,
  storedObjects,
  validMetadata,
  type TestServer,
} from './harness.ts';

/** What the disk does to a recovery record's fsync (`.record` files), while set. */
const disk = vi.hoisted(() => ({ record: 'ok' as 'ok' | 'fail' | 'slow', synced: 0 }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof real.open = async (...args) => {
    const fh = await real.open(...args);
    const sync = fh.sync.bind(fh);
    // The disk store writes into .tmp and renames: a record is the only small file synced while
    // its X-ray's row exists but has not committed; matched by what it holds is not possible,
    // so every fsync of a .tmp file while `record` is set is taken as the record's.
    if (disk.record !== 'ok' && /[/\\]\.tmp[/\\]/.test(String(args[0]))) {
      fh.sync = async () => {
        disk.synced++;
        if (disk.record === 'fail')
          throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO', errno: -5, syscall: 'fsync' });
        await sleep(400);
        return sync();
      };
    }
    return fh;
  };
  return { ...real, open, default: { ...real, open } };
});

const PARAMEDIC = 'para-finalize-record; paramedic';

describe('finalize: the recovery record written beside the index', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer('fs', {}, { authenticate: headerActor });
  });
  afterAll(async () => {
    disk.record = 'ok';
    await server?.close();
  });

  const dicomRows = async () =>
    Number((await server.pool.query<{ n: string }>('SELECT count(*) AS n FROM dicom_instances')).rows[0]!.n);

  it('a record that cannot be made durable refuses the X-ray; nothing of it stays', async () => {
    const before = { xrays: await countRows(server), objects: await storedObjects(server), dicom: await dicomRows() };
    const id = randomUUID();
    disk.record = 'fail';
    disk.synced = 0;
    let res: Response;
    try {
      res = await postXray(
        server.url,
        validMetadata({ id, patientId: 'P-FIN-REC-1' }),
        blobOf(makeDicom({ rows: 64, columns: 64 })),
        { 'X-Test-Actor': PARAMEDIC },
      );
    } finally {
      disk.record = 'ok';
    }
    expect(disk.synced).toBeGreaterThan(0);
    expect(res.status, await res.clone().text()).toBeGreaterThanOrEqual(500);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(await countRows(server)).toBe(before.xrays);
    expect(await dicomRows()).toBe(before.dicom);
    expect(await storedObjects(server)).toEqual(before.objects);

    // The disk back: the same upload is stored, record and all.
    const retry = await postXray(
      server.url,
      validMetadata({ id, patientId: 'P-FIN-REC-1' }),
      blobOf(makeDicom({ rows: 64, columns: 64 })),
      { 'X-Test-Actor': PARAMEDIC },
    );
    expect(retry.status).toBe(201);
    expect((await storedObjects(server)).filter((k) => k.includes(id) && k.endsWith('.record'))).toHaveLength(1);
  });

  it('an index that fails while the record is still being written leaves no record behind', async () => {
    const trigger = `test_fail_index_${randomUUID().replaceAll('-', '')}`;
    await asOwner(
      server,
      `CREATE FUNCTION ${trigger}() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'index refused by test'; END $$;
       CREATE TRIGGER ${trigger} BEFORE INSERT ON dicom_instances FOR EACH ROW EXECUTE FUNCTION ${trigger}();`,
    );
    const before = { xrays: await countRows(server), objects: await storedObjects(server) };
    const id = randomUUID();
    disk.record = 'slow';
    disk.synced = 0;
    let res: Response;
    try {
      res = await postXray(
        server.url,
        validMetadata({ id, patientId: 'P-FIN-REC-2' }),
        blobOf(makeDicom({ rows: 64, columns: 64 })),
        { 'X-Test-Actor': PARAMEDIC },
      );
    } finally {
      disk.record = 'ok';
      await asOwner(server, `DROP TRIGGER ${trigger} ON dicom_instances; DROP FUNCTION ${trigger}();`);
    }
    expect(disk.synced).toBeGreaterThan(0);
    expect(res.status).toBeGreaterThanOrEqual(500);
    // Had the clean-up not waited for the slow record, it would appear after the answer.
    await sleep(600);
    expect(await countRows(server)).toBe(before.xrays);
    expect(await storedObjects(server)).toEqual(before.objects);

    // A PNG has no DICOMweb index row: its record is written as before.
    const png = await postXray(
      server.url,
      validMetadata({ patientId: 'P-FIN-REC-3' }),
      blobOf(makePng({ width: 32, height: 32, seed: 31 })),
      { 'X-Test-Actor': PARAMEDIC },
    );
    expect(png.status).toBe(201);
  });
});
