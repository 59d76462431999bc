import { randomUUID } from 'node:crypto';
import { makeDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../src/cli/command.ts';
import { dicomIndexCommand } from '../src/cli/dicom-index.command.ts';
import { blobOf, headerActor, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';

const MEDIC = 'medic-index; paramedic';

/** A command run in this process, as xray-admin runs it (the server's settings as its environment). */
async function run(command: Command, args: string[], env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await command.run(args, { out: (l) => out.push(l), err: (l) => err.push(l), env });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

/**
 * `xray-admin dicom-index` against the real server's database and store: a DICOM X-ray stored
 * before the index existed (its index row removed) is indexed again from its header.
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

  it('--help prints the usage without opening anything; an unknown option is refused', async () => {
    const help = await run(dicomIndexCommand, ['--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^xray-admin dicom-index\n/);
    await expect(run(dicomIndexCommand, ['--all'], server.env)).rejects.toThrow(/--all/);
  });
});
