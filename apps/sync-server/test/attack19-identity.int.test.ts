import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DicomOptions } from '@xray/testkit';
import { DICOM_MAX_HEADER_BYTES, XraySchema, type Xray } from '@xray/shared';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startDevDoctorService, type DevDoctorService } from '../src/dev/doctor-service.ts';
import { SEED_PATIENTS } from '../src/dev/patient-service.ts';
import {
  actorCalls,
  blobOf,
  countRows,
  headerActor,
  postXray,
  startTestServer,
  storedObjects,
  validMetadata,
  validTusFields,
  type TestServer,
} from './harness.ts';
import { DEMOGRAPHICS, identityDicoms, KELLER, tusCreateAs } from './identity.support.ts';
import { waitFor } from './integrations.support.ts';
import { stowOne } from './stow.support.ts';
import { sealed, startTus } from './tus-client.ts';

const SECRET = 'attack19-identity-secret-0123456789';
const PARAMEDIC = 'atk-para-1; paramedic';
const DOCTOR = 'atk-doc-1; doctor';

/**
 * A Patient Service whose health the test turns: `up` answers the seeded patients, `down` 503s,
 * `slow` answers after `slowMs` (past the inline budget, within the background one).
 */
async function flakyPatientService(slowMs: number) {
  let mode: 'up' | 'down' | 'slow' = 'up';
  let lookups = 0;
  const server: Server = createServer((req, res) => {
    lookups++;
    const answer = () => {
      const m = /^\/patients\/([^/?]+)$/.exec(req.url ?? '');
      const p = m ? SEED_PATIENTS.find((s) => s.id === decodeURIComponent(m[1]!)) : undefined;
      if (!p) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(p));
    };
    if (mode === 'down') res.writeHead(503).end();
    else if (mode === 'slow') setTimeout(answer, slowMs);
    else answer();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    set: (m: typeof mode) => {
      mode = m;
    },
    lookups: () => lookups,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/**
 * Attacks on the identity check at ingest (issue 19) as a paramedic with the wrong patient
 * chosen, a doctor reading the worklist and an attacker would try them: odd encodings of the
 * file's patient, the Patient Service down or slow, replays with another override, overrides
 * from the wrong people, a move to another patient; the database and the audit trail checked.
 */
describe('attack 19: identity at ingest', () => {
  let patients: Awaited<ReturnType<typeof flakyPatientService>>;
  let doctor: DevDoctorService;
  let server: TestServer;

  beforeAll(async () => {
    patients = await flakyPatientService(800);
    doctor = await startDevDoctorService({ port: 0, secret: SECRET });
    server = await startTestServer(
      'fs',
      {
        PATIENT_SERVICE_URL: patients.url,
        PATIENT_SERVICE_TIMEOUT_MS: '2000',
        PATIENT_SERVICE_RETRIES: '0',
        PATIENT_CACHE_TTL_MS: '0',
        LINK_CHECK_TIMEOUT_MS: '300',
        LINK_RECHECK_INTERVAL_MS: '150',
        LINK_RECHECK_MAX_MS: '400',
        DOCTOR_SERVICE_URL: doctor.webhookUrl,
        WEBHOOK_SECRET: SECRET,
        OUTBOX_POLL_INTERVAL_MS: '50',
      },
      { authenticate: headerActor },
    );
  });
  afterAll(async () => {
    await server?.close();
    await doctor?.stop();
    await patients?.stop();
  });
  beforeEach(() => {
    doctor.reset();
    patients.set('up');
  });

  const { call, read } = actorCalls(() => server, DOCTOR);
  const dicom = identityDicoms(91_900);
  const post = (metadata: Record<string, unknown>, file: Buffer, actor = PARAMEDIC, requestId = randomUUID()) =>
    postXray(server.url, validMetadata(metadata), blobOf(file), { 'X-Test-Actor': actor, 'X-Request-Id': requestId });
  const identityEvents = async (id: string) =>
    (
      await server.pool.query<{ payload: unknown }>(
        `SELECT payload FROM outbox_events WHERE xray_id = $1 AND type = 'xray.identity_mismatch' ORDER BY seq`,
        [id],
      )
    ).rows;
  const stored = async (id: string) =>
    (
      await server.pool.query<{ identity: Xray['identity']; link: Xray['link']; patient_id: string }>(
        'SELECT identity, link, patient_id FROM xrays WHERE id = $1',
        [id],
      )
    ).rows[0];

  it('values padded with NUL (as some modalities write them) are the same patient: no false mismatch, link verified', async () => {
    const file = dicom({ ...KELLER, patientId: 'P-1001\u0000', patientSex: 'F\u0000', patientBirthDate: '19570314' });
    const res = await post({ patientId: 'P-1001' }, file);
    expect(res.status, await res.clone().text()).toBe(201);
    const x = XraySchema.parse(await res.json());
    expect(x.dicom?.patientId).toBe('P-1001');
    expect(x.link.status).toBe('verified');
    expect(x.identity).toMatchObject({
      status: 'consistent',
      fields: [],
      compared: ['patientId', 'patientName', 'patientBirthDate', 'patientSex'],
    });
    expect(await identityEvents(x.id)).toHaveLength(0);
  });

  it('a name whose alphabetic group is empty but whose other group names someone else is not `consistent`', async () => {
    // PN `=DOE^JOHN`: no alphabetic group, "DOE^JOHN" as the ideographic one.
    const res = await post({ patientId: 'P-1001' }, dicom({ ...KELLER, patientName: '=DOE^JOHN' }));
    expect(res.status, await res.clone().text()).toBe(201);
    const x = XraySchema.parse(await res.json());
    expect(x.identity.status).toBe('mismatch');
    expect(x.identity.fields.map((f) => f.field)).toEqual(['patientName']);
    // …while a name written in both forms, its alphabetic one the record's, stays consistent.
    const both = await post({ patientId: 'P-1001' }, dicom({ ...KELLER, patientName: 'KELLER^MARIA=ケラー^マリア' }));
    expect(XraySchema.parse(await both.json()).identity.status).toBe('consistent');
  });

  it('odd but equal encodings stay consistent; unreadable demographics are not compared, never called a mismatch', async () => {
    const cases: [DicomOptions, Xray['identity']['status'], string[]][] = [
      [
        { ...KELLER, patientName: 'Keller^Maria^^^', patientSex: 'f' },
        'consistent',
        ['patientId', 'patientName', 'patientBirthDate', 'patientSex'],
      ],
      [
        { ...KELLER, patientId: 'p-1001 ', patientBirthDate: '195703', patientSex: 'U' },
        'consistent',
        ['patientId', 'patientName'],
      ],
      [
        { ...KELLER, patientName: 'MARIA^KELLER' },
        'mismatch',
        ['patientId', 'patientName', 'patientBirthDate', 'patientSex'],
      ],
      [{ ...KELLER, patientId: '0P-1001' }, 'mismatch', ['patientId', 'patientName', 'patientBirthDate', 'patientSex']],
    ];
    for (const [tags, status, compared] of cases) {
      const res = await post({ patientId: 'P-1001' }, dicom(tags));
      expect(res.status).toBe(201);
      const x = XraySchema.parse(await res.json());
      expect(x.identity.status, JSON.stringify(tags)).toBe(status);
      expect(x.identity.compared, JSON.stringify(tags)).toEqual(compared);
    }
  });

  it('a file with no patient tags is unknown, not consistent; the database row says what the API says', async () => {
    const res = await post({ patientId: 'P-1001' }, dicom({ patientId: '', patientName: '' }));
    const x = XraySchema.parse(await res.json());
    expect(x.identity).toMatchObject({ status: 'unknown', reason: 'no_patient_tags', compared: [] });
    const row = await stored(x.id);
    expect(row?.identity).toEqual(x.identity);
    expect(row?.link.status).toBe('verified');
  });

  it('the Patient Service down, then slow, then back: unknown, then settled mismatch with exactly one event; never an answer before', async () => {
    patients.set('down');
    const res = await post({ patientId: 'P-1001' }, dicom({ ...KELLER, patientBirthDate: '19570315' }));
    expect(res.status).toBe(201);
    const { id } = XraySchema.parse(await res.json());
    expect((await read(id)).identity).toMatchObject({ status: 'unknown', reason: 'patient_service_unavailable' });
    // Slow: the background check (2 s budget) gets the answer the inline one (300 ms) could not.
    patients.set('slow');
    const settled = await waitFor('the link to settle', async () => {
      const x = await read(id);
      return x.link.status !== 'pending' && x;
    });
    expect(settled.link.status).toBe('verified');
    expect(settled.identity).toMatchObject({
      status: 'mismatch',
      fields: [{ field: 'patientBirthDate', file: '19570315', expected: '1957-03-14' }],
      compared: ['patientId', 'patientName', 'patientBirthDate', 'patientSex'],
    });
    patients.set('up');
    // More checker turns: nothing re-decided, one event only.
    await new Promise((r) => setTimeout(r, 800));
    const events = await identityEvents(id);
    expect(events).toHaveLength(1);
    expect(events[0]?.payload).toMatchObject({ data: { cause: 'link_check', fields: ['patientBirthDate'] } });
    expect((await stored(id))?.identity).toEqual(settled.identity);
    for (const e of doctor.accepted().filter((e) => e.xrayId === id))
      expect(JSON.stringify(e)).not.toMatch(DEMOGRAPHICS);
  });

  describe('the override', () => {
    const override = (over: Record<string, unknown> = {}) => ({
      fields: ['patientName'],
      reason: 'Detector still had the previous patient loaded',
      decidedAt: '2026-11-27T08:14:00Z',
      ...over,
    });

    it.each(['POST', 'tus'] as const)(
      'a replay through %s with another override (or none) is a 409; the audited decision stays as first sent',
      async (door) => {
        const file = dicom({ ...KELLER, patientName: 'DOE^JOHN' });
        const id = randomUUID();
        const first = await post(
          {
            id,
            patientId: 'P-1001',
            patientDecision: 'keep_chosen_patient',
            patientDecisionReason: 'Chosen on scene',
            identityOverride: override(),
          },
          file,
        );
        expect(first.status).toBe(201);
        const before = (await read(id)).identity;
        expect(before).toMatchObject({ status: 'mismatch', overridden: true });
        const variants = [
          override({ reason: 'Something else entirely' }),
          override({ fields: ['patientName', 'patientSex'] }),
          override({ decidedAt: '2026-11-27T08:15:00Z' }),
          undefined,
        ];
        for (const o of variants) {
          const meta = {
            id,
            patientId: 'P-1001',
            patientDecision: 'keep_chosen_patient',
            patientDecisionReason: 'Chosen on scene',
            ...(o ? { identityOverride: o } : {}),
          };
          if (door === 'POST') {
            const res = await post(meta, file);
            expect(res.status, JSON.stringify(o)).toBe(409);
            expect(res.headers.get('content-type')).toContain('application/problem+json');
          } else {
            const { body, metadata } = await sealed(server.url, file, validTusFields(meta));
            const res = await tusCreateAs(server.url, PARAMEDIC, body, metadata);
            expect(res.status, JSON.stringify(o)).toBe(409);
          }
        }
        // The exact replay is answered with what is stored.
        const again = await post(
          {
            id,
            patientId: 'P-1001',
            patientDecision: 'keep_chosen_patient',
            patientDecisionReason: 'Chosen on scene',
            identityOverride: override(),
          },
          file,
        );
        expect(again.status).toBe(200);
        const after = (await read(id)).identity;
        expect(after).toEqual(before);
        expect((await stored(id))?.identity).toEqual(before);
        const { rows } = await server.pool.query<{ details: { created: boolean; identity: unknown } }>(
          `SELECT details FROM audit_events WHERE xray_id = $1 AND action = 'xray.create' AND outcome = 'success' ORDER BY id`,
          [id],
        );
        expect(rows.map((r) => r.details.created)).toEqual([true, false]);
        for (const r of rows)
          expect(r.details.identity).toMatchObject({
            override: { reason: override().reason, fields: ['patientName'] },
          });
        expect(await identityEvents(id)).toHaveLength(1);
        // Each refusal audited, naming the field that differed (never its value).
        const refusals = await server.pool.query<{ details: { differs?: string[]; reason?: string } }>(
          `SELECT details FROM audit_events WHERE xray_id = $1 AND outcome = 'failed' AND details->>'error' = 'conflict'`,
          [id],
        );
        expect(refusals.rows).toHaveLength(variants.length);
        for (const r of refusals.rows) {
          expect(r.details.differs).toEqual(['identityOverride']);
          expect(JSON.stringify(r.details)).not.toContain('Something else entirely');
        }
      },
    );

    it("two uploads of one id at once with different overrides: one stored, the other a 409; the stored decision is the winner's", async () => {
      const file = dicom({ ...KELLER, patientName: 'DOE^JOHN' });
      const id = randomUUID();
      const reasons = ['First paramedic decision', 'Second, different decision'];
      const answers = await Promise.all(
        reasons.map((reason) =>
          post(
            {
              id,
              patientId: 'P-1001',
              patientDecision: 'keep_chosen_patient',
              patientDecisionReason: 'Chosen on scene',
              identityOverride: override({ reason }),
            },
            file,
          ),
        ),
      );
      expect(answers.map((r) => r.status).sort()).toEqual([201, 409]);
      const winner = reasons[answers.findIndex((r) => r.status === 201)];
      expect((await read(id)).identity.override?.reason).toBe(winner);
      expect((await stored(id))?.identity.override?.reason).toBe(winner);
      expect(await identityEvents(id)).toHaveLength(1);
    });

    it('an override from a doctor or a token with no role stores nothing and is audited as a denial', async () => {
      for (const actor of [DOCTOR, 'atk-nobody; ']) {
        const id = randomUUID();
        const requestId = randomUUID();
        const res = await post(
          { id, patientId: 'P-1001', identityOverride: override() },
          dicom({ ...KELLER, patientName: 'DOE^JOHN' }),
          actor,
          requestId,
        );
        expect(res.status).toBe(403);
        expect(res.headers.get('content-type')).toContain('application/problem+json');
        expect(await stored(id)).toBeUndefined();
        const { rows } = await server.pool.query<{ outcome: string }>(
          'SELECT outcome FROM audit_events WHERE request_id = $1',
          [requestId],
        );
        expect(rows.map((r) => r.outcome)).toEqual(['denied']);
      }
    });

    it('an override on a consistent image, or naming only fields that agree, never marks anything overridden; it is still audited', async () => {
      const res = await post(
        {
          patientId: 'P-1001',
          identityOverride: override({ fields: ['patientId', 'patientName', 'patientBirthDate', 'patientSex'] }),
        },
        dicom(KELLER),
      );
      const x = XraySchema.parse(await res.json());
      expect(x.identity).toMatchObject({
        status: 'consistent',
        overridden: false,
        override: { from: 'identity_override' },
      });
      const forged = await post(
        { patientId: 'P-1001', identityOverride: override({ fields: ['patientSex'] }) },
        dicom({ ...KELLER, patientName: 'DOE^JOHN' }),
      );
      const y = XraySchema.parse(await forged.json());
      expect(y.identity).toMatchObject({ status: 'mismatch', overridden: false });
      const { rows } = await server.pool.query<{ xray_id: string; details: { identity: { override?: unknown } } }>(
        `SELECT xray_id, details FROM audit_events WHERE xray_id = ANY($1::uuid[]) AND action = 'xray.create'`,
        [[x.id, y.id]],
      );
      expect(rows).toHaveLength(2);
      for (const r of rows) expect(r.details.identity.override).toMatchObject({ by: 'atk-para-1' });
      const [event] = (await identityEvents(y.id)).map((r) => r.payload as { data: Record<string, unknown> });
      expect(event?.data).toMatchObject({ overridden: false, override: { fields: ['patientSex'] } });
    });
  });

  it('PATCH to another patient while the Patient Service is down: unknown, then the settled mismatch is sent once (cause link_check)', async () => {
    const res = await post({ patientId: 'P-1001' }, dicom({ ...KELLER, patientId: '' }));
    const { id } = XraySchema.parse(await res.json());
    expect((await read(id)).identity.status).toBe('consistent');
    patients.set('down');
    const patched = await call(`/xrays/${id}`, DOCTOR, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ patientId: 'P-1002' }),
    });
    expect(patched.status).toBe(200);
    const x = XraySchema.parse(await patched.json());
    expect(x.link.status).toBe('pending');
    expect(x.identity).toMatchObject({ status: 'unknown', reason: 'patient_service_unavailable' });
    expect(await identityEvents(id)).toHaveLength(0);
    patients.set('up');
    const settled = await waitFor('the link to settle', async () => {
      const y = await read(id);
      return y.link.status !== 'pending' && y;
    });
    expect(settled.identity.status).toBe('mismatch');
    expect(settled.identity.fields.map((f) => f.field)).toEqual(['patientName', 'patientBirthDate', 'patientSex']);
    const events = await identityEvents(id);
    expect(events).toHaveLength(1);
    expect(events[0]?.payload).toMatchObject({ data: { cause: 'link_check' } });
    // The audit of the correction names fields and statuses, never the demographics.
    const { rows } = await server.pool.query<{ details: unknown }>(
      `SELECT details FROM audit_events WHERE xray_id = $1 AND action = 'xray.update'`,
      [id],
    );
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const r of rows) expect(JSON.stringify(r.details)).not.toMatch(DEMOGRAPHICS);
  });

  it('GET /xrays?identity= takes one known status only: repeated, other case or empty is a 400 naming it', async () => {
    for (const q of [
      'identity=mismatch&identity=consistent',
      'identity=MISMATCH',
      'identity=',
      'identity=overridden',
    ]) {
      const res = await call(`/xrays?${q}`, DOCTOR);
      expect(res.status, q).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const body = (await res.json()) as { errors: { field: string }[] };
      expect(body.errors.map((e) => e.field)).toContain('identity');
    }
  });

  it('STOW-RS: a NUL-padded PatientID is the patient it names, consistent', async () => {
    const file = dicom({ ...KELLER, patientId: 'P-1001\u0000' });
    const rows = await stowOne(server, PARAMEDIC, file);
    expect(rows[0]?.patient_id).toBe('P-1001');
    expect(rows[0]?.identity.status).toBe('consistent');
  });
  describe('patient tags past the first 64 KiB (a long private element before group 0010)', () => {
    /** A file naming P-1003 / DOE^JOHN whose patient group starts 70 KB in. */
    const farTags = () => dicom({ patientId: 'P-1003', patientName: 'DOE^JOHN', privateDataBytes: 70_000 });
    const tusCreate = async (body: Buffer, metadata: Record<string, string>) => {
      const res = await tusCreateAs(server.url, PARAMEDIC, body, metadata);
      expect(res.status).toBe(201);
      return new URL(res.headers.get('location') ?? '', server.url).toString();
    };
    const expectFarMismatch = async (id: string) => {
      const x = await read(id);
      expect(x.patientId).toBe('P-1001');
      expect(x.dicom).toMatchObject({ patientId: 'P-1003', patientName: 'DOE^JOHN' });
      expect(x.identity.status).toBe('mismatch');
      expect(x.identity.fields.map((f) => f.field).sort()).toEqual(['patientId', 'patientName']);
      expect(x.link.status).not.toBe('verified');
      expect((await stored(id))?.identity.status).toBe('mismatch');
      await waitFor('one identity event', async () => (await identityEvents(id)).length === 1);
    };
    const leftovers = async () => ({
      xrays: await countRows(server),
      uploads: await countRows(server, 'tus_uploads'),
      objects: (await storedObjects(server)).length,
    });
    const expectNothingLeftSince = async (before: Awaited<ReturnType<typeof leftovers>>) => {
      // Cleanup after a refusal may finish just after the response (up to 20 s on a busy machine).
      for (let i = 0; i < 200 && JSON.stringify(await leftovers()) !== JSON.stringify(before); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(await leftovers()).toEqual(before);
    };

    it('POST: read whole and checked: stored as a mismatch on PatientID and PatientName, never `verified`', async () => {
      const id = randomUUID();
      const res = await post({ id, patientId: 'P-1001' }, farTags());
      expect(res.status, await res.clone().text()).toBe(201);
      await expectFarMismatch(id);
    });

    it('tus: the same file in PATCHes of any size is the same mismatch', async () => {
      const id = randomUUID();
      const { body, metadata } = await sealed(server.url, farTags(), validTusFields({ id, patientId: 'P-1001' }));
      const { xrayId } = await startTus({
        endpoint: `${server.url}/uploads`,
        file: body,
        metadata,
        chunkSize: 50_000,
        headers: { 'X-Test-Actor': PARAMEDIC },
      }).done;
      expect(xrayId).toBe(id);
      await expectFarMismatch(id);
    });

    it('STOW-RS: the header is read on past 64 KiB, the instance stored under the patient it names', async () => {
      const rows = await stowOne(server, PARAMEDIC, farTags());
      expect(rows[0]?.patient_id).toBe('P-1003');
      expect(rows[0]?.identity.status).not.toBe('unknown');
    });

    it('a header past DICOM_MAX_HEADER_BYTES is refused 422 content_invalid through POST and tus, leaving nothing', async () => {
      const file = dicom({ ...KELLER, privateDataBytes: DICOM_MAX_HEADER_BYTES });
      const detail = /^The DICOM file has more than 1 MiB of header data before its image/;
      const before = await leftovers();
      const id = randomUUID();
      const res = await post({ id, patientId: 'P-1001' }, file);
      expect(res.status).toBe(422);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const problem = (await res.json()) as { code: string; detail: string };
      expect(problem.code).toBe('content_invalid');
      expect(problem.detail).toMatch(detail);
      expect((await call(`/xrays/${id}`, DOCTOR)).status).toBe(404);
      await expectNothingLeftSince(before);

      const tusId = randomUUID();
      const { body, metadata } = await sealed(server.url, file, validTusFields({ id: tusId, patientId: 'P-1001' }));
      const url = await tusCreate(body, metadata);
      const patch = await fetch(url, {
        method: 'PATCH',
        headers: {
          'X-Test-Actor': PARAMEDIC,
          'Tus-Resumable': '1.0.0',
          'Upload-Offset': '0',
          'Content-Type': 'application/offset+octet-stream',
        },
        body: new Uint8Array(body),
      });
      expect(patch.status).toBe(422);
      const tusProblem = (await patch.json()) as { code: string; detail: string };
      expect(tusProblem).toMatchObject({ code: 'content_invalid' });
      expect(tusProblem.detail).toMatch(detail);
      expect((await call(`/xrays/${tusId}`, DOCTOR)).status).toBe(404);
      await expectNothingLeftSince(before);
      // Refusals are audited.
      const { rows } = await server.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM audit_events WHERE xray_id = ANY($1::uuid[]) AND outcome = 'failed'`,
        [[id, tusId]],
      );
      expect(rows[0]?.n).toBeGreaterThanOrEqual(2);
    });
  });

  it('keep_chosen_patient alone (the roster hold) overrides only a differing PatientID; a name found later is not `overridden`', async () => {
    const decision = { patientDecision: 'keep_chosen_patient', patientDecisionReason: 'Not on the roster yet' };
    // The file's PatientID is the chosen patient's: nothing about the file was decided.
    const sameId = randomUUID();
    const res = await post(
      { id: sameId, patientId: 'P-1001', ...decision },
      dicom({ ...KELLER, patientName: 'DOE^JOHN' }),
    );
    expect(res.status, await res.clone().text()).toBe(201);
    const x = await read(sameId);
    expect(x.identity).toMatchObject({ status: 'mismatch', overridden: false });
    expect(x.identity.fields.map((f) => f.field)).toEqual(['patientName']);
    expect(x.identity.override).toBeUndefined();
    // The file names another patient: the decision kept the chosen one over the file's PatientID, and only that.
    const otherId = randomUUID();
    const other = await post(
      { id: otherId, patientId: 'P-1001', ...decision },
      dicom({ ...KELLER, patientId: 'P-1003' }),
    );
    expect(other.status, await other.clone().text()).toBe(201);
    expect((await read(otherId)).identity).toMatchObject({
      status: 'mismatch',
      overridden: true,
      override: { fields: ['patientId'], from: 'patient_decision' },
    });
    const both = randomUUID();
    const res3 = await post(
      { id: both, patientId: 'P-1001', ...decision },
      dicom({ ...KELLER, patientId: 'P-1003', patientName: 'DOE^JOHN' }),
    );
    expect(res3.status).toBe(201);
    expect((await read(both)).identity).toMatchObject({ status: 'mismatch', overridden: false });
  });
});
