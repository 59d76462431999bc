import { randomUUID } from 'node:crypto';
import { makeDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dicomIndexCommand } from '../src/cli/dicom-index.command.ts';
import { blobOf, headerActor, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { runCommand as run } from './command.support.ts';

const MEDIC = 'medic-index; paramedic';
const DOCTOR = 'doctor-index; doctor';

/**
 * `xray-admin dicom-index` against the real server's database and store: a DICOM X-ray stored
 * before the index existed (its index row removed) is indexed again from its header, read whole
 * to the pixel data as every door reads it.
 */
describe('xray-admin dicom-index', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('fs', {}, { authenticate: headerActor });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('indexes a DICOM X-ray that has no index row, and finds nothing to do the second time', async () => {
    const id = randomUUID();
    const res = await postXray(
      server.url,
      validMetadata({ id, patientId: 'P-1001' }),
      blobOf(makeDicom({ rows: 16, columns: 16, seed: 4242, patientId: 'P-1001' })),
      { 'X-Test-Actor': MEDIC },
    );
    expect(res.status, await res.clone().text()).toBe(201);
    const indexed = async () =>
      (await server.pool.query('SELECT 1 FROM dicom_instances WHERE xray_id = $1', [id])).rows.length;
    expect(await indexed()).toBe(1);
    // As if stored before the index: its row is gone.
    await server.pool.query('DELETE FROM dicom_instances WHERE xray_id = $1', [id]);
    expect(await indexed()).toBe(0);

    const first = await run(dicomIndexCommand, [], server.env);
    expect(first).toEqual({ code: 0, stdout: 'Indexed 1 DICOM X-ray(s).', stderr: '' });
    expect(await indexed()).toBe(1);
    const again = await run(dicomIndexCommand, [], server.env);
    expect(again).toEqual({ code: 0, stdout: 'Indexed 0 DICOM X-ray(s).', stderr: '' });
  });

  it('indexes an X-ray whose patient tags sit after more than 64 KiB of private data, with its PatientID', async () => {
    const id = randomUUID();
    const file = makeDicom({
      rows: 256,
      columns: 256,
      seed: 4343,
      patientId: 'P-1001',
      patientName: 'DOE^JANE',
      privateDataBytes: 70_000,
    });
    const res = await postXray(server.url, validMetadata({ id, patientId: 'P-1001' }), blobOf(file), {
      'X-Test-Actor': MEDIC,
    });
    expect(res.status, await res.clone().text()).toBe(201);
    // As if stored before the index: its row is gone.
    await server.pool.query('DELETE FROM dicom_instances WHERE xray_id = $1', [id]);

    const result = await run(dicomIndexCommand, [], server.env);
    expect(result).toEqual({ code: 0, stdout: 'Indexed 1 DICOM X-ray(s).', stderr: '' });
    const { rows } = await server.pool.query<{
      patient_id: string | null;
      patient_name: string | null;
      header_complete: boolean;
    }>('SELECT patient_id, patient_name, header_complete FROM dicom_instances WHERE xray_id = $1', [id]);
    expect(rows).toEqual([{ patient_id: 'P-1001', patient_name: 'DOE^JANE', header_complete: true }]);
  });

  describe('rows indexed from a header cut at 64 KiB (by uploads and this command before headers were read whole)', () => {
    const CUT_PATIENT = `header_complete = false, patient_id = NULL, patient_name = NULL, patient_birth_date = NULL,
       patient_sex = NULL, header = header - '00100010' - '00100020' - '00100030' - '00100040'`;
    const rowOf = async (id: string) =>
      (await server.pool.query<Record<string, unknown>>('SELECT * FROM dicom_instances WHERE xray_id = $1', [id]))
        .rows[0];
    /** Puts a row back as it was (the other tests' runs then find nothing of it). */
    const restore = async (row: Record<string, unknown> | undefined) => {
      await server.pool.query('DELETE FROM dicom_instances WHERE xray_id = $1', [row?.xray_id]);
      await server.pool.query(
        'INSERT INTO dicom_instances SELECT * FROM jsonb_populate_record(NULL::dicom_instances, $1::jsonb)',
        [JSON.stringify(row)],
      );
      expect(await rowOf(String(row?.xray_id))).toEqual(row);
    };
    const stored = async (file: Buffer, patientId: string) => {
      const id = randomUUID();
      const res = await postXray(server.url, validMetadata({ id, patientId }), blobOf(file), {
        'X-Test-Actor': MEDIC,
      });
      expect(res.status, await res.clone().text()).toBe(201);
      return id;
    };
    const dicomweb = (path: string) =>
      fetch(`${server.url}/dicom-web${path}`, {
        headers: { 'X-Test-Actor': DOCTOR, Accept: 'application/dicom+json' },
      });

    it('are read whole again and written in place, as an upload indexes them today; a second run re-reads nothing', async () => {
      const file = makeDicom({
        rows: 256,
        columns: 256,
        seed: 4444,
        patientId: 'P-1044',
        patientName: 'ROE^CUT',
        privateDataBytes: 70_000,
      });
      const id = await stored(file, 'P-1044');
      const whole = await rowOf(id);
      expect(whole).toMatchObject({ patient_id: 'P-1044', patient_name: 'ROE^CUT', header_complete: true });
      // As a cut read left it: the patient's attributes missing from the columns and the header.
      await server.pool.query(`UPDATE dicom_instances SET ${CUT_PATIENT} WHERE xray_id = $1`, [id]);
      const [study, series, sop] = [whole!.study_uid, whole!.series_uid, whole!.sop_uid] as string[];
      const metadataPath = `/studies/${study}/series/${series}/instances/${sop}/metadata`;
      const byName = async () =>
        ((await (await dicomweb('/instances?PatientName=ROE%5ECUT')).json()) as unknown[]).length;
      expect(await byName()).toBe(0);
      expect((await dicomweb(metadataPath)).headers.get('warning')).toMatch(/first 64 KiB only end early.*1 instance/);

      const first = await run(dicomIndexCommand, [], server.env);
      expect(first).toEqual({
        code: 0,
        stdout: 'Indexed 0 DICOM X-ray(s).\nRe-read 1 DICOM X-ray(s) indexed from a header cut at 64 KiB.',
        stderr: '',
      });
      // Every column as the upload wrote it, indexed_at too: who holds the SOP Instance UID first is unchanged.
      expect(await rowOf(id)).toEqual(whole);
      expect(await byName()).toBe(1);
      const metadata = await dicomweb(metadataPath);
      expect(metadata.headers.get('warning')).toBeNull();
      const [dataset] = (await metadata.json()) as Record<string, { Value?: unknown[] }>[];
      expect(dataset?.['00100010']?.Value).toEqual([{ Alphabetic: 'ROE^CUT' }]);

      // Whole now: nothing is read again.
      const again = await run(dicomIndexCommand, [], server.env);
      expect(again).toEqual({ code: 0, stdout: 'Indexed 0 DICOM X-ray(s).', stderr: '' });
      expect(await rowOf(id)).toEqual(whole);
    });

    it('a file no longer than 64 KiB was read whole by then: its row is not read again', async () => {
      const id = await stored(makeDicom({ rows: 16, columns: 16, seed: 4545, patientId: 'P-1045' }), 'P-1045');
      const whole = await rowOf(id);
      await server.pool.query(`UPDATE dicom_instances SET ${CUT_PATIENT} WHERE xray_id = $1`, [id]);
      const cut = await rowOf(id);
      expect(await run(dicomIndexCommand, [], server.env)).toEqual({
        code: 0,
        stdout: 'Indexed 0 DICOM X-ray(s).',
        stderr: '',
      });
      expect(await rowOf(id)).toEqual(cut);
      await restore(whole);
    });

    it('a row whose UIDs its file does not name is left as it is (no instance moves to another SOP Instance UID)', async () => {
      const id = await stored(
        makeDicom({ rows: 256, columns: 256, seed: 4646, patientId: 'P-1046', privateDataBytes: 70_000 }),
        'P-1046',
      );
      const whole = await rowOf(id);
      await server.pool.query(
        `UPDATE dicom_instances SET ${CUT_PATIENT}, sop_uid = '1.2.826.0.1.3680043.10.1046' WHERE xray_id = $1`,
        [id],
      );
      const cut = await rowOf(id);
      const result = await run(dicomIndexCommand, [], server.env);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('Indexed 0 DICOM X-ray(s).');
      expect(result.stderr).toMatch(
        new RegExp(`^${id}: its header read whole does not name the UIDs of its index row`),
      );
      expect(await rowOf(id)).toEqual(cut);
      await restore(whole);
    });
  });

  it('--help prints the usage without opening anything; an unknown option is refused', async () => {
    const help = await run(dicomIndexCommand, ['--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^xray-admin dicom-index\n/);
    await expect(run(dicomIndexCommand, ['--all'], server.env)).rejects.toThrow(/--all/);
  });
});
