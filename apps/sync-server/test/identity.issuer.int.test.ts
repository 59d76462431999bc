import { XraySchema, type Xray } from '@xray/shared';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { identityCheckCommand } from '../src/cli/identity-check.command.ts';
import { startDevDoctorService, type DevDoctorService } from '../src/dev/doctor-service.ts';
import { startDevPatientService, type DevPatientService } from '../src/dev/patient-service.ts';
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
import { expectIdentityOutcome, identityDicoms, identityMismatchSent, KELLER } from './identity.support.ts';
import { stowOne } from './stow.support.ts';
import { sealed, startTus } from './tus-client.ts';

const SECRET = 'identity-issuer-webhook-secret-0123';
const PARAMEDIC = 'para-iss-1; paramedic';
const DOCTOR = 'doc-iss-1; doctor';
const OURS = 'HOSPITAL-A';

type Door = 'POST' | 'tus';

/**
 * IssuerOfPatientID (0010,0021) against PATIENT_ID_ISSUER, through the doors of a real server
 * (PostgreSQL, the dev Patient Service over HTTP, the dev Doctor Service receiving the webhook):
 * Maria Keller's file as her own modality wrote it, but with its PatientID issued by the clinic the
 * ambulance fetched a patient from. With our issuer configured that is another hospital's P-1001:
 * flagged exactly as a file naming another PatientID is. Issued by us, or with no issuer
 * configured, it is P-1001 as before. POST /xrays, tus and STOW-RS end in the one finalizeXray
 * (src/ingest/finalize.ts); each door is tried all the same.
 */
describe('IssuerOfPatientID against PATIENT_ID_ISSUER', () => {
  let patients: DevPatientService;
  let doctor: DevDoctorService;
  /** PATIENT_ID_ISSUER=HOSPITAL-A. */
  let issuing: TestServer;
  /** No PATIENT_ID_ISSUER: today's behaviour. */
  let plain: TestServer;
  const dicom = identityDicoms(21_000);

  const env = () => ({
    PATIENT_SERVICE_URL: patients.url,
    PATIENT_SERVICE_TIMEOUT_MS: '1000',
    PATIENT_SERVICE_RETRIES: '1',
    PATIENT_CACHE_TTL_MS: '0',
    LINK_CHECK_TIMEOUT_MS: '1000',
    DOCTOR_SERVICE_URL: doctor.webhookUrl,
    WEBHOOK_SECRET: SECRET,
    OUTBOX_POLL_INTERVAL_MS: '50',
  });

  beforeAll(async () => {
    patients = await startDevPatientService({ port: 0 });
    doctor = await startDevDoctorService({ port: 0, secret: SECRET });
    [issuing, plain] = await Promise.all([
      startTestServer('fs', { ...env(), PATIENT_ID_ISSUER: OURS }, { authenticate: headerActor }),
      startTestServer('fs', env(), { authenticate: headerActor }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([issuing?.close(), plain?.close()]);
    await doctor?.stop();
    await patients?.stop();
  });
  beforeEach(() => doctor.reset());

  const issuingCalls = actorCalls(() => issuing, DOCTOR);
  const plainCalls = actorCalls(() => plain, DOCTOR);

  /** Stores `file` under P-1001 (or `patientId`) through `door`; the stored X-ray's id. */
  async function store(server: TestServer, door: Door, file: Buffer, patientId = 'P-1001'): Promise<string> {
    const headers = { 'X-Test-Actor': PARAMEDIC };
    if (door === 'POST') {
      const res = await postXray(server.url, validMetadata({ patientId }), blobOf(file), headers);
      expect(res.status, await res.clone().text()).toBe(201);
      return XraySchema.parse(await res.json()).id;
    }
    const { body, metadata } = await sealed(server.url, file, validTusFields({ patientId }));
    const { xrayId } = await startTus({ endpoint: `${server.url}/uploads`, file: body, metadata, headers }).done;
    if (!xrayId) throw new Error('tus finished without an X-ray id');
    return xrayId;
  }

  /** What the audit trail says of the X-ray's creation: its link and identity (names, no values). */
  async function createAudit(server: TestServer, id: string): Promise<Record<string, unknown>> {
    const { rows } = await server.pool.query<{ details: Record<string, unknown> }>(
      `SELECT details FROM audit_events WHERE xray_id = $1 AND action = 'xray.create'`,
      [id],
    );
    expect(rows).toHaveLength(1);
    return rows[0]!.details;
  }

  /** The event types the outbox committed for an X-ray, in order. */
  async function eventTypes(server: TestServer, id: string): Promise<string[]> {
    const { rows } = await server.pool.query<{ type: string }>(
      'SELECT type FROM outbox_events WHERE xray_id = $1 ORDER BY seq',
      [id],
    );
    return rows.map((r) => r.type);
  }

  /** The parts of an X-ray a different-patient verdict is made of: link, identity (field names), events, audit. */
  async function verdict(server: TestServer, x: Xray) {
    const audit = await createAudit(server, x.id);
    return {
      link: { status: x.link.status, reason: x.link.reason },
      identity: {
        status: x.identity.status,
        fields: x.identity.fields.map((f) => f.field),
        overridden: x.identity.overridden,
      },
      events: await eventTypes(server, x.id),
      audit: { link: audit.link, identity: audit.identity },
    };
  }

  describe.each(['POST', 'tus'] as const)('through %s', (door) => {
    it('configured HOSPITAL-A, the file issued by CLINIC-B: a patientId mismatch and file_patient_mismatch, as another PatientID is', async () => {
      const id = await store(issuing, door, dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' }));
      const x = await expectIdentityOutcome({ read: (i) => issuingCalls.read(i), doctor, pool: issuing.pool }, id, {
        name: `${door}: same PatientID, issued by CLINIC-B`,
        patientId: 'P-1001',
        tags: KELLER,
        status: 'mismatch',
        mismatch: { field: 'patientId', file: 'P-1001 (issuer CLINIC-B)', expected: 'P-1001 (issuer HOSPITAL-A)' },
      });
      // What a doctor reads: the file's issuer recorded, the reason named; the demographics compared
      // and agreeing here: the issuer alone tells the clinic's P-1001 from ours.
      expect(x.dicom).toMatchObject({ patientId: 'P-1001', issuerOfPatientId: 'CLINIC-B' });
      expect(x.identity.fields).toEqual([
        {
          field: 'patientId',
          file: 'P-1001 (issuer CLINIC-B)',
          expected: 'P-1001 (issuer HOSPITAL-A)',
          source: 'metadata',
          hint: 'other_issuer',
        },
      ]);
      expect(x.identity.compared).toEqual(['patientId', 'patientName', 'patientBirthDate', 'patientSex']);
      expect(x.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
      const mismatched = await issuingCalls.call('/xrays?identity=mismatch&patientId=P-1001&limit=200', DOCTOR);
      expect(mismatched.status).toBe(200);
      expect(((await mismatched.json()) as { items: Xray[] }).items.map((i) => i.id)).toContain(id);
      // No event carries the issuer (it says whose patient this is).
      const { rows } = await issuing.pool.query<{ payload: unknown }>(
        'SELECT payload FROM outbox_events WHERE xray_id = $1',
        [id],
      );
      for (const r of rows) expect(JSON.stringify(r.payload)).not.toContain('CLINIC-B');

      // Exactly as a file naming another PatientID (P-1003, no issuer) stored the same way.
      const otherId = await store(issuing, door, dicom({ ...KELLER, patientId: 'P-1003' }));
      const other = await issuingCalls.read(otherId);
      expect(other.identity.fields).toEqual([
        { field: 'patientId', file: 'P-1003', expected: 'P-1001', source: 'metadata' },
      ]);
      expect(await verdict(issuing, x)).toEqual(await verdict(issuing, other));
      expect(await verdict(issuing, x)).toMatchObject({
        link: { status: 'invalid', reason: 'file_patient_mismatch' },
        identity: { status: 'mismatch', fields: ['patientId'], overridden: false },
        events: ['xray.uploaded', 'xray.link_invalid', 'xray.identity_mismatch'],
        audit: { link: { status: 'invalid', reason: 'file_patient_mismatch' }, identity: { status: 'mismatch' } },
      });
    });

    it('configured HOSPITAL-A, the file issued by hospital-a (case and blanks aside): consistent and verified', async () => {
      const id = await store(issuing, door, dicom({ ...KELLER, issuerOfPatientId: ' hospital-a ' }));
      const x = await expectIdentityOutcome({ read: (i) => issuingCalls.read(i), doctor, pool: issuing.pool }, id, {
        name: `${door}: issued by us`,
        patientId: 'P-1001',
        tags: KELLER,
        status: 'consistent',
      });
      expect(x.link).toMatchObject({ status: 'verified', patient: { id: 'P-1001' } });
      expect(x.dicom?.issuerOfPatientId).toBe('hospital-a');
    });

    it('no PATIENT_ID_ISSUER: the CLINIC-B file is P-1001, consistent and verified, as before', async () => {
      const id = await store(plain, door, dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' }));
      const x = await expectIdentityOutcome({ read: (i) => plainCalls.read(i), doctor, pool: plain.pool }, id, {
        name: `${door}: issuers not compared`,
        patientId: 'P-1001',
        tags: KELLER,
        status: 'consistent',
      });
      expect(x.link).toMatchObject({ status: 'verified', patient: { id: 'P-1001' } });
      expect(x.dicom?.issuerOfPatientId).toBe('CLINIC-B');
      expect(await eventTypes(plain, id)).toEqual(['xray.uploaded']);
    });
  });

  it("keep_chosen_patient decides what the device compared, the id: not another authority's P-1001, but another id of it", async () => {
    const keep = async (file: Buffer, reason: string): Promise<Xray> => {
      const metadata = validMetadata({ patientDecision: 'keep_chosen_patient', patientDecisionReason: reason });
      const res = await postXray(issuing.url, metadata, blobOf(file), { 'X-Test-Actor': PARAMEDIC });
      expect(res.status, await res.clone().text()).toBe(201);
      return issuingCalls.read(XraySchema.parse(await res.json()).id);
    };
    // The edge app sends it when the chosen P-1001 was not on its roster: the file's id read the same
    // (the app knows no issuer), so nobody decided about the clinic's patient.
    const unseen = await keep(dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' }), 'Not on the device roster');
    expect(unseen.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
    expect(unseen.identity).toMatchObject({ status: 'mismatch', overridden: false, fields: [{ field: 'patientId' }] });
    expect(unseen.identity.override).toBeUndefined();
    // The file named P-1003 (of CLINIC-B): the paramedic saw another id and kept P-1001.
    const decided = await keep(
      dicom({ ...KELLER, patientId: 'P-1003', issuerOfPatientId: 'CLINIC-B' }),
      'Wrong worklist entry',
    );
    expect(decided.link).toMatchObject({ status: 'verified', decision: { choice: 'keep_chosen_patient' } });
    expect(decided.identity).toMatchObject({
      status: 'mismatch',
      overridden: true,
      override: { fields: ['patientId'], from: 'patient_decision' },
      fields: [{ field: 'patientId', file: 'P-1003 (issuer CLINIC-B)', expected: 'P-1001 (issuer HOSPITAL-A)' }],
    });
  });

  it("keep_chosen_patient with an identityOverride naming patientId (the edge app held on the issuer): another authority's P-1001 decided, through POST and tus, and kept while its patient stays", async () => {
    const reason = 'Transferred from CLINIC-B, identity confirmed';
    const kept = {
      patientDecision: 'keep_chosen_patient',
      patientDecisionReason: reason,
      identityOverride: { fields: ['patientId'], reason, decidedAt: '2026-11-27T08:16:00Z' },
    } as const;
    const headers = { 'X-Test-Actor': PARAMEDIC };
    const posted = await postXray(
      issuing.url,
      validMetadata(kept),
      blobOf(dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' })),
      headers,
    );
    expect(posted.status, await posted.clone().text()).toBe(201);
    const tus = await sealed(issuing.url, dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' }), validTusFields(kept));
    const { xrayId } = await startTus({
      endpoint: `${issuing.url}/uploads`,
      file: tus.body,
      metadata: tus.metadata,
      headers,
    }).done;
    if (!xrayId) throw new Error('tus finished without an X-ray id');
    for (const id of [XraySchema.parse(await posted.json()).id, xrayId]) {
      const x = await issuingCalls.read(id);
      // Decided with the issuer in view: the link as the Patient Service checked it, the decision on it;
      // the identity still a mismatch (a doctor reads it), overridden by the paramedic, recorded as theirs.
      expect(x.link).toMatchObject({ status: 'verified', decision: { choice: 'keep_chosen_patient', reason } });
      expect(x.identity).toMatchObject({
        status: 'mismatch',
        overridden: true,
        override: { fields: ['patientId'], reason, from: 'identity_override', by: { sub: 'para-iss-1' } },
        fields: [{ field: 'patientId', file: 'P-1001 (issuer CLINIC-B)', hint: 'other_issuer' }],
      });
      expect(await createAudit(issuing, id)).toMatchObject({
        link: { status: 'verified' },
        identity: { status: 'mismatch', overridden: true },
      });
    }
    const patch = async (body: Record<string, unknown>): Promise<Xray> => {
      const res = await fetch(`${issuing.url}/xrays/${xrayId}`, {
        method: 'PATCH',
        headers: { ...headers, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status, await res.clone().text()).toBe(200);
      return XraySchema.parse(await res.json());
    };
    // Its consultation corrected: the patient stays, so do the decision and what it covered.
    expect((await patch({ consultationId: 'C-2001' })).link).toMatchObject({
      status: 'verified',
      decision: { choice: 'keep_chosen_patient' },
    });
    // Moved to another patient and back: nobody decided for that move; the clinic's P-1001 stands out again.
    await patch({ patientId: 'P-1002', consultationId: null });
    const back = await patch({ patientId: 'P-1001' });
    expect(back.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
    expect(back.identity).toMatchObject({ status: 'mismatch', overridden: false });
  });

  it('STOW-RS (the metadata is the file: PatientID P-1001): issued by CLINIC-B is a mismatch, by us consistent', async () => {
    const [foreign] = await stowOne(issuing, PARAMEDIC, dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' }));
    const x = await issuingCalls.read(foreign!.id);
    expect(x.identity).toMatchObject({
      status: 'mismatch',
      fields: [{ field: 'patientId', file: 'P-1001 (issuer CLINIC-B)', hint: 'other_issuer' }],
    });
    expect(x.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
    await identityMismatchSent(doctor, x.id);
    // What a DICOMweb viewer shows: the linked patient, our P-1001 (README: the patient is the linked
    // one), never as issued by CLINIC-B: the file's pair in OtherPatientIDsSequence, as for a file
    // naming another id, and the Warnings saying it was corrected and naming the issuer.
    const { studyInstanceUid, seriesInstanceUid, sopInstanceUid } = x.dicom ?? {};
    const res = await issuingCalls.call(
      `/dicom-web/studies/${studyInstanceUid}/series/${seriesInstanceUid}/instances/${sopInstanceUid}/metadata`,
      DOCTOR,
      { headers: { Accept: 'application/dicom+json' } },
    );
    expect(res.status).toBe(200);
    const [shown] = (await res.json()) as Record<string, { Value?: unknown[] }>[];
    expect(shown?.['00100020']?.Value).toEqual(['P-1001']);
    expect(shown?.['00100021']).toBeUndefined();
    expect(shown?.['00101002']?.Value).toEqual([
      { '00100020': { vr: 'LO', Value: ['P-1001'] }, '00100021': { vr: 'LO', Value: ['CLINIC-B'] } },
    ]);
    expect(res.headers.get('warning')).toMatch(/Patient corrected: PatientID of 1 instance/);
    expect(res.headers.get('warning')).toMatch(/identity status mismatch for 1 .*IssuerOfPatientID/);
    const [own] = await stowOne(issuing, PARAMEDIC, dicom({ ...KELLER, issuerOfPatientId: OURS }));
    expect((await issuingCalls.read(own!.id)).identity.status).toBe('consistent');
  });

  it("PATCH to the file's id keeps another authority's file a mismatch (configured), and makes it consistent without the setting", async () => {
    const file = dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' });
    const patch = async (server: TestServer, id: string, patientId: string): Promise<Xray> => {
      const res = await fetch(`${server.url}/xrays/${id}`, {
        method: 'PATCH',
        headers: { 'X-Test-Actor': PARAMEDIC, 'Content-Type': 'application/json' },
        body: JSON.stringify({ patientId }),
      });
      expect(res.status, await res.clone().text()).toBe(200);
      return XraySchema.parse(await res.json());
    };
    // Filed under P-1002 by mistake, then moved to P-1001: the file's id, but not our P-1001.
    const moved = await patch(issuing, await store(issuing, 'POST', file, 'P-1002'), 'P-1001');
    expect(moved.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
    expect(moved.identity).toMatchObject({
      status: 'mismatch',
      fields: [{ field: 'patientId', file: 'P-1001 (issuer CLINIC-B)', expected: 'P-1001 (issuer HOSPITAL-A)' }],
    });
    const asBefore = await patch(plain, await store(plain, 'POST', file, 'P-1002'), 'P-1001');
    expect(asBefore.link).toMatchObject({ status: 'verified' });
    expect(asBefore.identity.status).toBe('consistent');
  });

  it('xray-admin identity-check reads the setting too: an X-ray never checked, its stored header issued by CLINIC-B, is a mismatch', async () => {
    const id = await store(plain, 'POST', dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' }));
    expect((await plainCalls.read(id)).identity.status).toBe('consistent');
    // As an X-ray stored before identity was checked (see xray-admin.identity-check.int.test.ts).
    const notChecked = { status: 'unknown', fields: [], compared: [], reason: 'not_checked', overridden: false };
    await plain.pool.query('UPDATE xrays SET identity = $1 WHERE id = $2', [JSON.stringify(notChecked), id]);
    // The CLINIC-B X-rays stored on this server before (without the setting: consistent) are decided
    // again by the same run: their row records the issuer, and their identity does not say so.
    const { rows: before } = await plain.pool.query<{ id: string }>(
      `SELECT id FROM xrays WHERE dicom->>'issuerOfPatientId' = 'CLINIC-B' AND id <> $1 ORDER BY id`,
      [id],
    );
    expect(before.length).toBeGreaterThan(0);
    const out: string[] = [];
    const err: string[] = [];
    const code = await identityCheckCommand.run([], {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      env: { ...plain.env, PATIENT_ID_ISSUER: OURS },
    });
    const n = before.length + 1;
    expect({ code, out, err }).toEqual({
      code: 0,
      out: [
        `Checked ${n} X-ray(s): 0 consistent, ${n} mismatch, 0 unknown; 0 failed.`,
        `${id}: mismatch (patientId)`,
        ...before.map((r) => `${r.id}: mismatch (patientId)`),
      ],
      err: [],
    });
    for (const x of [id, ...before.map((r) => r.id)]) {
      const read = await plainCalls.read(x);
      expect(read.identity, x).toMatchObject({
        status: 'mismatch',
        fields: [{ field: 'patientId', file: 'P-1001 (issuer CLINIC-B)', expected: 'P-1001 (issuer HOSPITAL-A)' }],
      });
      expect(read.link, x).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
    }
  });
  it("xray-admin identity-check --recheck-issuers: X-rays checked before issuers were recorded have their header read; only the other authority's is flagged, its issuer recorded, audited once", async () => {
    const foreign = await store(plain, 'POST', dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' }));
    const own = await store(plain, 'POST', dicom({ ...KELLER, issuerOfPatientId: OURS }));
    const none = await store(plain, 'POST', dicom(KELLER));
    // As rows stored before e27ae9e: checked (consistent, verified), no issuer recorded.
    await plain.pool.query(`UPDATE xrays SET dicom = dicom - 'issuerOfPatientId' WHERE id = ANY($1::uuid[])`, [
      [foreign, own, none],
    ]);
    const rowsOf = async (ids: string[]) =>
      (
        await plain.pool.query<{ id: string; identity: unknown; link: unknown; dicom: unknown; change_seq: string }>(
          'SELECT id, identity, link, dicom, change_seq FROM xrays WHERE id = ANY($1::uuid[]) ORDER BY id',
          [ids],
        )
      ).rows;
    const untouched = await rowsOf([foreign, own, none]);
    const { rows: unrecorded } = await plain.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM xrays WHERE content_type = 'application/dicom' AND NOT (dicom ? 'issuerOfPatientId')`,
    );
    const env = { ...plain.env, PATIENT_ID_ISSUER: OURS };
    const run = async (args: string[], withEnv: Record<string, string>) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await identityCheckCommand.run(args, {
        out: (l) => out.push(l),
        err: (l) => err.push(l),
        env: withEnv,
      });
      return { code, out, err };
    };

    // Without the flag nothing records their issuer: they are left as they are.
    expect(await run([], env)).toEqual({
      code: 0,
      out: ['Checked 0 X-ray(s): 0 consistent, 0 mismatch, 0 unknown; 0 failed.'],
      err: [],
    });
    expect(await rowsOf([foreign, own, none])).toEqual(untouched);
    // The flag needs the setting: nothing to compare with otherwise.
    const refused = await run(['--recheck-issuers'], plain.env);
    expect(refused.code).toBe(2);
    expect(refused.err.join('\n')).toMatch(/PATIENT_ID_ISSUER is not set/);

    const rechecked = await run(['--recheck-issuers'], env);
    expect(rechecked).toEqual({
      code: 0,
      out: [
        'Checked 1 X-ray(s): 0 consistent, 1 mismatch, 0 unknown; 0 failed.',
        `${foreign}: mismatch (patientId)`,
        `Read the header of ${unrecorded[0]!.n} X-ray(s) already checked that recorded no IssuerOfPatientID (those another authority issued are among the X-rays checked above).`,
      ],
      err: [],
    });
    // Ours and none: not written (same identity, link, dicom and change number).
    expect(await rowsOf([own, none])).toEqual(untouched.filter((r) => r.id !== foreign));
    const flagged = await plainCalls.read(foreign);
    expect(flagged.identity).toMatchObject({
      status: 'mismatch',
      fields: [{ field: 'patientId', file: 'P-1001 (issuer CLINIC-B)', hint: 'other_issuer' }],
    });
    expect(flagged.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
    expect(flagged.dicom?.issuerOfPatientId).toBe('CLINIC-B');
    const { rows: audits } = await plain.pool.query<{ details: Record<string, unknown> }>(
      `SELECT details FROM audit_events WHERE xray_id = $1 AND action = 'xray.update'`,
      [foreign],
    );
    expect(audits).toHaveLength(1);
    expect(audits[0]!.details).toMatchObject({
      cause: 'identity_check',
      before: { identity: { status: 'consistent' }, link: { status: 'verified' } },
      after: {
        identity: { status: 'mismatch', fields: ['patientId'] },
        link: { status: 'invalid', reason: 'file_patient_mismatch' },
      },
      changed: ['identity', 'link', 'dicom.issuerOfPatientId'],
    });
    expect(JSON.stringify(audits)).not.toContain('CLINIC-B');
    const events = await eventTypes(plain, foreign);
    expect(events.slice(1)).toEqual(['xray.updated', 'xray.link_invalid', 'xray.identity_mismatch']);
    // Once flagged, a second run has nothing left to decide.
    expect((await run(['--recheck-issuers'], env)).out[0]).toBe(
      'Checked 0 X-ray(s): 0 consistent, 0 mismatch, 0 unknown; 0 failed.',
    );
  });
});
