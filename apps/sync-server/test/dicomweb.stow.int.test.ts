import { makeDicom, makePng, resolveDicomOptions, sha256Hex } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevPatientService } from '../src/dev/patient-service.ts';
import { xrayIdOfSopInstance } from '../src/dicomweb/stow.metadata.ts';
import {
  blobOf,
  countRows,
  headerActor,
  postXray,
  startTestServer,
  storedObjects,
  validMetadata,
  type TestServer,
} from './harness.ts';
import { postStow, readStowAnswer, stowAs } from './stow.support.ts';

const MEDIC = 'medic-stow; paramedic';
const OTHER_MEDIC = 'medic-other; paramedic';
const DOCTOR = 'doctor-stow; doctor';
const DX = '1.2.840.10008.5.1.4.1.1.1.1';

/** Small images (the size of one is no part of these rules); `seed` varies pixels and UIDs. */
const dicom = (o: Parameters<typeof makeDicom>[0] = {}) => makeDicom({ rows: 64, columns: 64, ...o });

/**
 * STOW-RS against the real server (PostgreSQL, disk storage): every instance goes through the
 * ingest of POST /xrays, so each one stored has its row, its audit event and its outbox event,
 * and every refusal leaves an audit event and nothing in storage.
 */
describe('STOW-RS (POST /dicom-web/studies)', () => {
  let server: TestServer;
  const stow = (parts: Parameters<typeof postStow>[1], opts: Parameters<typeof postStow>[2] = {}, study?: string) =>
    stowAs(server.url, MEDIC, parts, opts, study);

  beforeAll(async () => {
    server = await startTestServer('fs', { MAX_UPLOAD_BYTES: String(4 * 1024 * 1024) }, { authenticate: headerActor });
  });
  afterAll(async () => {
    await server?.close();
  });

  async function auditOf(sopInstanceUid: string) {
    const { rows } = await server.pool.query<{
      action: string;
      outcome: string;
      xray_id: string | null;
      details: Record<string, unknown>;
    }>(
      `SELECT action, outcome, xray_id, details FROM audit_events
        WHERE (xray_id = $1 OR details->>'sopInstanceUid' = $2) AND action IN ('xray.create', 'access.denied') ORDER BY id`,
      [xrayIdOfSopInstance(sopInstanceUid), sopInstanceUid],
    );
    return rows;
  }

  it('stores each instance of a chunked body as an X-ray with the metadata of its header, encrypted, announced and audited', async () => {
    const study = '1.2.826.0.1.3680043.10.1.2001';
    const one = dicom({
      seed: 101,
      patientId: 'P-2001',
      bodyPart: 'HAND',
      view: 'AP',
      studyDate: '20261120',
      studyInstanceUid: study,
    });
    const two = dicom({
      seed: 102,
      patientId: 'P-2001',
      bodyPart: 'HAND',
      view: 'LL',
      studyDate: '20261120',
      studyInstanceUid: study,
    });

    const res = await stow([{ bytes: one }, { bytes: two }], { chunked: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/dicom\+json/);
    const answer = readStowAnswer(await res.json());
    expect(answer.failed).toEqual([]);
    expect(answer.stored).toHaveLength(2);
    expect(answer.stored.map((s) => s.sopClassUid)).toEqual([DX, DX]);
    expect(answer.retrieveUrl).toBe(`${server.url}/dicom-web/studies/${study}`);

    for (const [bytes, view] of [
      [one, 'AP'],
      [two, 'LL'],
    ] as const) {
      const sop = answer.stored.map((s) => s.sopInstanceUid);
      const { rows } = await server.pool.query<{
        id: string;
        patient_id: string;
        captured_at: Date;
        body_part: string;
        view: string;
        priority: string;
        sha256: string;
        object_key: string;
        captured_by_sub: string;
        dicom: { sopInstanceUid: string; studyInstanceUid: string; seriesInstanceUid: string };
      }>(`SELECT * FROM xrays WHERE sha256 = $1`, [sha256Hex(bytes)]);
      expect(rows).toHaveLength(1);
      const x = rows[0]!;
      expect(sop).toContain(x.dicom.sopInstanceUid);
      expect(x.id).toBe(xrayIdOfSopInstance(x.dicom.sopInstanceUid));
      expect(x).toMatchObject({
        patient_id: 'P-2001',
        body_part: 'HAND',
        view,
        priority: 'routine',
        captured_by_sub: 'medic-stow',
      });
      expect(x.captured_at.toISOString()).toBe('2026-11-20T00:00:00.000Z');
      expect(answer.stored.find((s) => s.sopInstanceUid === x.dicom.sopInstanceUid)?.retrieveUrl).toBe(
        `${server.url}/dicom-web/studies/${study}/series/${x.dicom.seriesInstanceUid}/instances/${x.dicom.sopInstanceUid}`,
      );
      // At rest: XRE1 ciphertext only; the doctor's download gives the original bytes back.
      const stored: Buffer[] = [];
      for await (const c of await server.store.get(x.object_key)) stored.push(Buffer.from(c as Buffer));
      expect(Buffer.concat(stored).subarray(0, 4).toString('latin1')).toBe('XRE1');
      const download = await fetch(`${server.url}/xrays/${x.id}/download`, { headers: { 'X-Test-Actor': DOCTOR } });
      expect(sha256Hex(new Uint8Array(await download.arrayBuffer()))).toBe(sha256Hex(bytes));
      // Announced (outbox) and audited as a create by the paramedic, in the X-ray's transaction.
      const events = await server.pool.query<{ type: string }>(`SELECT type FROM outbox_events WHERE xray_id = $1`, [
        x.id,
      ]);
      expect(events.rows.map((e) => e.type)).toContain('xray.uploaded');
      const audit = await auditOf(x.dicom.sopInstanceUid);
      expect(audit).toEqual([
        expect.objectContaining({
          action: 'xray.create',
          outcome: 'success',
          xray_id: x.id,
          details: expect.objectContaining({ created: true }),
        }),
      ]);
    }
  });

  it('answers the same instance sent again as stored, with a Warning, and stores nothing new', async () => {
    const bytes = dicom({ seed: 110, patientId: 'P-2002' });
    expect((await stow([{ bytes }])).status).toBe(200);
    const rows = await countRows(server);
    const objects = (await storedObjects(server)).length;
    const again = await stow([{ bytes }]);
    expect(again.status).toBe(200);
    expect(again.headers.get('warning')).toMatch(/^299 - ".*already stored/);
    const answer = readStowAnswer(await again.json());
    expect(answer.stored).toHaveLength(1);
    expect(await countRows(server)).toBe(rows);
    expect((await storedObjects(server)).length).toBe(objects);
    const audit = await auditOf(answer.stored[0]!.sopInstanceUid);
    expect(audit.map((e) => [e.action, e.outcome, e.details.created])).toEqual([
      ['xray.create', 'success', true],
      ['xray.create', 'success', false],
    ]);
  });

  it('recognises an instance stored before through POST /xrays (its own id) and does not store it twice', async () => {
    const bytes = dicom({ seed: 111, patientId: 'P-1001' });
    const rest = await postXray(server.url, validMetadata({ patientId: 'P-1001' }), blobOf(bytes), {
      'X-Test-Actor': MEDIC,
    });
    expect(rest.status).toBe(201);
    const restId = ((await rest.json()) as { id: string }).id;
    const rows = await countRows(server);
    const res = await stow([{ bytes }]);
    expect(res.status).toBe(200);
    expect(res.headers.get('warning')).toMatch(/already stored/);
    expect(await countRows(server)).toBe(rows);
    const { rows: audit } = await server.pool.query<{ outcome: string; details: { created: boolean } }>(
      `SELECT outcome, details FROM audit_events WHERE xray_id = $1 AND action = 'xray.create' ORDER BY id`,
      [restId],
    );
    expect(audit.map((e) => [e.outcome, e.details.created])).toEqual([
      ['success', true],
      ['success', false],
    ]);
    // Another paramedic sending that file is not told it is stored (someone else's X-ray): 0111H, a denial.
    const theirs = await stow([{ bytes }], { headers: { 'X-Test-Actor': OTHER_MEDIC } });
    expect(theirs.status).toBe(409);
    expect(readStowAnswer(await theirs.json()).failed[0]?.reason).toBe(0x0111);
    // Compared, not stored: still no more than MAX_UPLOAD_BYTES of it is read (A700).
    const { sopInstanceUid } = resolveDicomOptions({ rows: 64, columns: 64, seed: 111, patientId: 'P-1001' });
    const huge = makeDicom({ rows: 1600, columns: 1600, seed: 112, patientId: 'P-1001', sopInstanceUid });
    const tooLarge = await stow([{ bytes: huge }], { chunked: true });
    expect(tooLarge.status).toBe(409);
    expect(readStowAnswer(await tooLarge.json()).failed).toEqual([
      expect.objectContaining({ sopInstanceUid, reason: 0xa700 }),
    ]);
    expect(await countRows(server)).toBe(rows);
  });

  it('fails, with 0111H, another instance under a stored SOP Instance UID; 409 when nothing was stored', async () => {
    const sopInstanceUid = '1.2.826.0.1.3680043.10.1.2003';
    expect((await stow([{ bytes: dicom({ seed: 120, patientId: 'P-2003', sopInstanceUid }) }])).status).toBe(200);
    const objects = (await storedObjects(server)).length;
    const res = await stow([{ bytes: dicom({ seed: 121, patientId: 'P-2003', sopInstanceUid }) }]);
    expect(res.status).toBe(409);
    expect(readStowAnswer(await res.json()).failed).toEqual([{ sopClassUid: DX, sopInstanceUid, reason: 0x0111 }]);
    expect(res.headers.get('warning')).toMatch(/0111H/);
    expect((await storedObjects(server)).length).toBe(objects);
    // Another paramedic sending the very same instance is not answered with someone else's X-ray either.
    const theirs = await stow([{ bytes: dicom({ seed: 120, patientId: 'P-2003', sopInstanceUid }) }], {
      headers: { 'X-Test-Actor': OTHER_MEDIC },
    });
    expect(theirs.status).toBe(409);
    expect(readStowAnswer(await theirs.json()).failed[0]?.reason).toBe(0x0111);
    const audit = await auditOf(sopInstanceUid);
    expect(audit.at(-1)).toMatchObject({ action: 'access.denied', outcome: 'denied' });
  });

  it('stores what it can and fails the rest per instance (202): another study than the path, not DICOM, no PatientID, damaged, too large', async () => {
    const study = '1.2.826.0.1.3680043.10.1.2004';
    const good = dicom({ seed: 130, patientId: 'P-2004', studyInstanceUid: study });
    const otherStudy = dicom({ seed: 131, patientId: 'P-2004', studyInstanceUid: '1.2.826.0.1.3680043.10.1.9999' });
    const noPatient = dicom({ seed: 132, patientId: '', studyInstanceUid: study });
    const whole = dicom({ seed: 133, patientId: 'P-2004', studyInstanceUid: study });
    const damaged = whole.subarray(0, whole.length - 1000);
    const tooLarge = makeDicom({ rows: 1600, columns: 1600, seed: 134, patientId: 'P-2004', studyInstanceUid: study });
    const rows = await countRows(server);
    const objects = (await storedObjects(server)).length;

    const res = await stow(
      [
        { bytes: good },
        { bytes: otherStudy },
        { bytes: makePng(), type: 'image/png' },
        { bytes: makePng(), type: 'application/dicom' },
        { bytes: noPatient },
        { bytes: damaged },
        { bytes: tooLarge },
      ],
      { chunked: true },
      study,
    );
    expect(res.status).toBe(202);
    const answer = readStowAnswer(await res.json());
    expect(answer.stored.map((s) => s.sopInstanceUid)).toHaveLength(1);
    expect(answer.retrieveUrl).toBe(`${server.url}/dicom-web/studies/${study}`);
    expect(answer.failed.map((f) => f.reason)).toEqual([0xa900, 0xc000, 0xc000, 0xa900, 0xc000, 0xa700]);
    // What could be read of a failed instance names it.
    expect(answer.failed[0]).toMatchObject({ sopClassUid: DX });
    expect(answer.failed[0]!.sopInstanceUid).toMatch(/^[0-9.]+$/);
    expect(answer.failed[1]).toEqual({ sopClassUid: undefined, sopInstanceUid: undefined, reason: 0xc000 });
    const warnings = res.headers.get('warning') ?? '';
    expect(warnings).toMatch(/not to the study/);
    expect(warnings).toMatch(/PatientID \(0010,0020\) is missing/);
    // One X-ray more, nothing else in storage: no orphan of the refused ones.
    expect(await countRows(server)).toBe(rows + 1);
    expect((await storedObjects(server)).length).toBe(objects + 2); // its object and its recovery record
    // Every refusal is on the audit trail as a failed create with its Failure Reason.
    const { rows: failures } = await server.pool.query<{ details: { failureReason: number; door: string } }>(
      `SELECT details FROM audit_events WHERE action = 'xray.create' AND outcome = 'failed' AND details->>'door' = 'stow-rs'
        AND id > (SELECT max(id) - 20 FROM audit_events) ORDER BY id`,
    );
    expect(failures.slice(-6).map((f) => f.details.failureReason)).toEqual([
      0xa900, 0xc000, 0xc000, 0xa900, 0xc000, 0xa700,
    ]);
  });

  it('refuses the request itself: wrong media type (415), unacceptable Accept (406), a role that may not create (403), malformed multipart (400)', async () => {
    const bytes = dicom({ seed: 140, patientId: 'P-2005' });
    const rows = await countRows(server);

    const asDicom = await fetch(`${server.url}/dicom-web/studies`, {
      method: 'POST',
      headers: { 'X-Test-Actor': MEDIC, 'content-type': 'application/dicom' },
      body: blobOf(bytes),
    });
    expect(asDicom.status).toBe(415);
    expect(await asDicom.json()).toMatchObject({ code: 'unsupported_media_type' });
    const asJson = await stow([{ bytes }], {
      contentType: 'multipart/related; type="application/dicom+json"; boundary=x',
    });
    expect(asJson.status).toBe(415);

    const xml = await stow([{ bytes }], { headers: { Accept: 'application/dicom+xml' } });
    expect(xml.status).toBe(406);
    expect(await xml.json()).toMatchObject({ code: 'not_acceptable' });

    const doctor = await stow([{ bytes }], { headers: { 'X-Test-Actor': DOCTOR } });
    expect(doctor.status).toBe(403);
    const { rows: denied } = await server.pool.query(
      `SELECT 1 FROM audit_events WHERE action = 'access.denied' AND actor_sub = 'doctor-stow' AND details->>'attempted' = 'xray.create'`,
    );
    expect(denied).toHaveLength(1);

    const unclosed = await stow([{ bytes }], { closing: false });
    expect(unclosed.status).toBe(400);
    expect(await unclosed.json()).toMatchObject({
      code: 'bad_request',
      detail: expect.stringMatching(/closing boundary/),
    });
    const noBoundary = await stow([{ bytes }], { contentType: 'multipart/related; type="application/dicom"' });
    expect(noBoundary.status).toBe(400);
    const empty = await fetch(`${server.url}/dicom-web/studies`, {
      method: 'POST',
      headers: { 'X-Test-Actor': MEDIC, 'content-type': 'multipart/related; type="application/dicom"; boundary=b' },
      body: '--b--\r\n',
    });
    expect(empty.status).toBe(400);
    const badStudy = await stow([{ bytes }], {}, '1.2.x');
    expect(badStudy.status).toBe(400);

    // The truncated body's instance was not stored either (its part never ended).
    expect(await countRows(server)).toBe(rows);
  });

  it('checks identity as every door does: the Patient Service down is `unknown` (patient_service_unavailable)', async () => {
    // Consistent and each mismatching field through STOW-RS: test/identity.int.test.ts (STOW_IDENTITY_CASES).
    const patients = await startDevPatientService({ port: 0 });
    const { url } = patients;
    await patients.stop();
    const down = await startTestServer(
      'fs',
      { PATIENT_SERVICE_URL: url, LINK_CHECK_TIMEOUT_MS: '300' },
      { authenticate: headerActor },
    );
    try {
      const res = await postStow(
        `${down.url}/dicom-web/studies`,
        [{ bytes: dicom({ seed: 160, patientId: 'P-1001', patientName: 'KELLER^MARIA', patientSex: 'F' }) }],
        { headers: { 'X-Test-Actor': MEDIC } },
      );
      expect(res.status).toBe(200);
      const [stored] = readStowAnswer(await res.json()).stored;
      const x = await fetch(`${down.url}/xrays/${xrayIdOfSopInstance(stored!.sopInstanceUid)}`, {
        headers: { 'X-Test-Actor': DOCTOR },
      });
      expect(await x.json()).toMatchObject({
        patientId: 'P-1001',
        link: { status: 'pending' },
        identity: { status: 'unknown', reason: 'patient_service_unavailable' },
      });
    } finally {
      await down.close();
    }
  });

  it('streams large instances: two 18 MB images in one chunked request, stored byte for byte', async () => {
    const big = await startTestServer('fs', {}, { authenticate: headerActor });
    try {
      const study = '1.2.826.0.1.3680043.10.1.2006';
      const one = makeDicom({ seed: 150, patientId: 'P-2006', studyInstanceUid: study });
      const two = makeDicom({ seed: 151, patientId: 'P-2006', studyInstanceUid: study });
      const res = await postStow(`${big.url}/dicom-web/studies/${study}`, [{ bytes: one }, { bytes: two }], {
        chunked: true,
        headers: { 'X-Test-Actor': MEDIC },
      });
      expect(res.status).toBe(200);
      const answer = readStowAnswer(await res.json());
      expect(answer.stored).toHaveLength(2);
      for (const [i, bytes] of [one, two].entries()) {
        const id = xrayIdOfSopInstance(answer.stored[i]!.sopInstanceUid);
        const download = await fetch(`${big.url}/xrays/${id}/download`, { headers: { 'X-Test-Actor': DOCTOR } });
        expect(sha256Hex(new Uint8Array(await download.arrayBuffer()))).toBe(sha256Hex(bytes));
      }
    } finally {
      await big.close();
    }
  });
});
