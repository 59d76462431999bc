// Attack on commit 83f5960 (dcmjs loaded on first use): the reader's chunk failing to load (a
// broken install, a module missing from an image). A DICOM must then be refused with a clear error
// through every door, never stored without its inspection; the next upload, once the chunk loads,
// is inspected as always (the failed load is not kept).
import { randomUUID } from 'node:crypto';
import { XraySchema } from '@xray/shared';
import { makePng } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  blobOf,
  countRows,
  headerActor,
  postXray,
  startTestServer,
  validMetadata,
  validTusFields,
  type TestServer,
} from './harness.ts';
import { identityDicoms } from './identity.support.ts';
import { stowAs } from './stow.support.ts';
import { sealed, startTus } from './tus-client.ts';

const loader = vi.hoisted(() => ({ failing: true, calls: 0 }));

vi.mock('@xray/shared', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@xray/shared')>();
  return {
    ...actual,
    loadDicomReader: () => {
      loader.calls++;
      return loader.failing
        ? Promise.reject(new Error('Cannot find module ./dicom-reader.ts (simulated chunk load failure)'))
        : actual.loadDicomReader();
    },
  };
});

const PARAMEDIC = 'para-adcf; paramedic';
/** A file naming P-1003 / DOE^JOHN whose patient group starts 70 KB in. */
const dicoms = identityDicoms(42_000);
const farTags = () => dicoms({ patientId: 'P-1003', patientName: 'DOE^JOHN', privateDataBytes: 70_000 });

describe('attack: the DICOM reader fails to load', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('fs', {}, { authenticate: headerActor });
  });
  afterAll(async () => {
    await server?.close();
  });
  const xrayCount = () => countRows(server);

  const tusUpload = async (file: Buffer) => {
    const { body, metadata } = await sealed(
      server.url,
      file,
      validTusFields({ id: randomUUID(), patientId: 'P-1001' }),
    );
    return startTus({
      endpoint: `${server.url}/uploads`,
      file: body,
      metadata,
      chunkSize: 50_000,
      headers: { 'X-Test-Actor': PARAMEDIC },
      retryDelays: null,
    }).done.then(
      (r) => ({ ok: true as const, xrayId: r.xrayId, err: '' }),
      (err: unknown) => ({ ok: false as const, xrayId: null, err: String(err) }),
    );
  };

  it('a PNG needs no DICOM reader: stored through POST and tus while the reader cannot load (as before dcmjs was lazy)', async () => {
    const post = await postXray(
      server.url,
      validMetadata({ patientId: 'P-1001' }),
      blobOf(makePng({ seed: 42_500, width: 8, height: 8 })),
      {
        'X-Test-Actor': PARAMEDIC,
      },
    );
    expect(post.status, await post.clone().text()).toBe(201);
    const tus = await tusUpload(makePng({ seed: 42_501, width: 8, height: 8 }));
    expect(tus, tus.err).toMatchObject({ ok: true });
  });

  it('tus: the refusal names what failed, not an object storage outage (the store is healthy)', async () => {
    const tus = await tusUpload(farTags());
    expect(tus.ok).toBe(false);
    // An operator alerted on storage_failed checks the store; the DICOM reader is what is missing.
    expect(tus.err).not.toMatch(/storage_failed|Object storage is unavailable/);
  });

  it('POST, tus and STOW-RS refuse the DICOM (5xx), store nothing; once the reader loads, the same upload is inspected', async () => {
    const before = await xrayCount();
    const callsBefore = loader.calls;

    // POST /xrays
    const postId = randomUUID();
    const post = await postXray(server.url, validMetadata({ id: postId, patientId: 'P-1001' }), blobOf(farTags()), {
      'X-Test-Actor': PARAMEDIC,
    });
    expect(post.status, await post.clone().text()).toBeGreaterThanOrEqual(500);

    // tus
    const tusId = randomUUID();
    const { body, metadata } = await sealed(server.url, farTags(), validTusFields({ id: tusId, patientId: 'P-1001' }));
    const tus = await startTus({
      endpoint: `${server.url}/uploads`,
      file: body,
      metadata,
      chunkSize: 50_000,
      headers: { 'X-Test-Actor': PARAMEDIC },
      retryDelays: null,
    }).done.then(
      (r) => ({ ok: true as const, xrayId: r.xrayId }),
      (err: unknown) => ({ ok: false as const, err: String(err) }),
    );
    expect(tus.ok, JSON.stringify(tus)).toBe(false);

    // STOW-RS
    const stow = await stowAs(server.url, PARAMEDIC, [{ bytes: farTags() }]);
    expect(stow.status, await stow.clone().text()).toBeGreaterThanOrEqual(500);

    expect(loader.calls).toBeGreaterThan(callsBefore);
    // Nothing stored uninspected, by any door.
    expect(await xrayCount()).toBe(before);
    for (const id of [postId, tusId])
      expect((await server.pool.query('SELECT 1 FROM xrays WHERE id = $1', [id])).rowCount).toBe(0);

    // The chunk is there again: the next upload loads it and is inspected (read past 64 KiB).
    loader.failing = false;
    const again = await postXray(server.url, validMetadata({ patientId: 'P-1001' }), blobOf(farTags()), {
      'X-Test-Actor': PARAMEDIC,
    });
    expect(again.status, await again.clone().text()).toBe(201);
    const x = XraySchema.parse(await again.json());
    expect(x.dicom).toMatchObject({ patientId: 'P-1003', patientName: 'DOE^JOHN' });
    expect(x.identity.status).toBe('mismatch');
  });
});
