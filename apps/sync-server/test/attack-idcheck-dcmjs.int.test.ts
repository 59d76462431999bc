// Attack on commit 83f5960 (dcmjs loaded on first use): the very first uploads after a server
// starts, all three doors at once, of DICOM files whose patient tags lie past the first 64 KiB,
// are inspected as every later one is. (The load failing is attack-idcheck-dcmjs-fail.int.test.ts.)
import { randomUUID } from 'node:crypto';
import { XraySchema } from '@xray/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  actorCalls,
  blobOf,
  headerActor,
  postXray,
  startTestServer,
  validMetadata,
  validTusFields,
  type TestServer,
} from './harness.ts';
import { identityDicoms } from './identity.support.ts';
import { stowOne } from './stow.support.ts';
import { sealed, startTus } from './tus-client.ts';

const PARAMEDIC = 'para-adcm; paramedic';
const DOCTOR = 'doc-adcm; doctor';

/** A file naming P-1003 / DOE^JOHN whose patient group starts 70 KB in. */
const dicoms = identityDicoms(41_000);
const farTags = () => dicoms({ patientId: 'P-1003', patientName: 'DOE^JOHN', privateDataBytes: 70_000 });

describe('attack: the first DICOM uploads after start (dcmjs not loaded yet)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('fs', {}, { authenticate: headerActor });
  });
  afterAll(async () => {
    await server?.close();
  });
  const { read } = actorCalls(() => server, DOCTOR);

  it('POST, tus and STOW-RS at once, right after start: each file read past 64 KiB and checked, none stored uninspected', async () => {
    const postOne = async () => {
      const id = randomUUID();
      const res = await postXray(server.url, validMetadata({ id, patientId: 'P-1001' }), blobOf(farTags()), {
        'X-Test-Actor': PARAMEDIC,
      });
      expect(res.status, await res.clone().text()).toBe(201);
      return XraySchema.parse(await res.json()).id;
    };
    const tusOne = async () => {
      const id = randomUUID();
      const { body, metadata } = await sealed(server.url, farTags(), validTusFields({ id, patientId: 'P-1001' }));
      const { xrayId } = await startTus({
        endpoint: `${server.url}/uploads`,
        file: body,
        metadata,
        chunkSize: 50_000,
        headers: { 'X-Test-Actor': PARAMEDIC },
        retryDelays: null,
      }).done;
      expect(xrayId).toBe(id);
      return id;
    };
    const [posted, tussed, stowed] = await Promise.all([
      Promise.all([postOne(), postOne()]),
      Promise.all([tusOne(), tusOne()]),
      Promise.all([stowOne(server, PARAMEDIC, farTags()), stowOne(server, PARAMEDIC, farTags())]),
    ]);
    for (const id of [...posted, ...tussed]) {
      const x = await read(id);
      expect(x.dicom, id).toMatchObject({ patientId: 'P-1003', patientName: 'DOE^JOHN' });
      expect(x.identity.status, id).toBe('mismatch');
      expect(x.identity.fields.map((f) => f.field)).toContain('patientId');
    }
    for (const rows of stowed) {
      expect(rows).toHaveLength(1);
      // STOW-RS stores under the patient the file names: read only past the first 64 KiB.
      expect(rows[0]!.patient_id).toBe('P-1003');
      expect(rows[0]!.identity.status).not.toBe('unknown');
    }
  });
});
