import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { XraySchema, type Xray } from '@xray/shared';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { identityCheckCommand } from '../src/cli/identity-check.command.ts';
import { startDevDoctorService, type DevDoctorService } from '../src/dev/doctor-service.ts';
import { SEED_CONSULTATIONS, SEED_PATIENTS } from '../src/dev/patient-service.ts';
import {
  actorCalls,
  blobOf,
  headerActor,
  postXray,
  startTestServer,
  validMetadata,
  type MetadataInput,
  type TestServer,
} from './harness.ts';
import { identityDicoms, KELLER } from './identity.support.ts';
import { waitFor } from './integrations.support.ts';
import { readStowAnswer, rowsOfSop, stowAs } from './stow.support.ts';

const SECRET = 'attack-issuer-webhook-secret-0123456';
const PARAMEDIC = 'atk-iss-para-1; paramedic';
const OTHER_PARAMEDIC = 'atk-iss-para-2; paramedic';
const DOCTOR = 'atk-iss-doc-1; doctor';
const NO_ROLE = 'atk-iss-nobody; ';
const OURS = 'HOSPITAL-A';

/** A Patient Service the test turns: `up` answers the seeded patients and consultations, `down` 503s. */
async function switchablePatientService() {
  let mode: 'up' | 'down' = 'up';
  const server: Server = createServer((req, res) => {
    if (mode === 'down') {
      res.writeHead(503).end();
      return;
    }
    const p = /^\/patients\/([^/?]+)$/.exec(req.url ?? '');
    const c = /^\/consultations\/([^/?]+)$/.exec(req.url ?? '');
    const found = p
      ? SEED_PATIENTS.find((s) => s.id === decodeURIComponent(p[1]!))
      : c
        ? SEED_CONSULTATIONS.find((s) => s.id === decodeURIComponent(c[1]!))
        : undefined;
    if (!found) res.writeHead(404, { 'content-type': 'application/json' }).end('{}');
    else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(found));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    set: (m: typeof mode) => {
      mode = m;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** One explicit-VR little-endian element (short or long length form by VR). */
function element(group: number, elem: number, vr: string, value: Buffer): Buffer {
  const long = ['OB', 'OW', 'UN', 'UT', 'UC', 'UR', 'SQ'].includes(vr);
  const h = Buffer.alloc(long ? 12 : 8);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(elem, 2);
  h.write(vr, 4, 'latin1');
  if (long) h.writeUInt32LE(value.length, 8);
  else h.writeUInt16LE(value.length, 6);
  return Buffer.concat([h, value]);
}

/**
 * The file `make` writes with IssuerOfPatientID `XX` (LO), that element replaced by `replacement`
 * (the testkit writes no group lengths in the data set, so the rest stays valid).
 */
function withIssuerElement(file: Buffer, replacement: Buffer): Buffer {
  const marker = Buffer.from([0x10, 0x00, 0x21, 0x00, 0x4c, 0x4f, 0x02, 0x00, 0x58, 0x58]);
  const at = file.indexOf(marker);
  if (at < 0) throw new Error('the placeholder issuer is not in the file');
  return Buffer.concat([file.subarray(0, at), replacement, file.subarray(at + marker.length)]);
}

/**
 * An independent attack on PATIENT_ID_ISSUER (commit e27ae9e), with real PostgreSQL, the Doctor
 * Service webhook and a Patient Service the test can take down: odd shapes of IssuerOfPatientID,
 * a STOW-RS body mixing issuers, corrections away and back, overrides that must and must not
 * cover another authority's id, the pending-link check, who may see what, and what DICOMweb shows.
 */
describe('attack: IssuerOfPatientID against PATIENT_ID_ISSUER=HOSPITAL-A', () => {
  let patients: Awaited<ReturnType<typeof switchablePatientService>>;
  let doctor: DevDoctorService;
  let server: TestServer;
  const dicom = identityDicoms(47_000);

  beforeAll(async () => {
    patients = await switchablePatientService();
    doctor = await startDevDoctorService({ port: 0, secret: SECRET });
    server = await startTestServer(
      'fs',
      {
        PATIENT_SERVICE_URL: patients.url,
        PATIENT_SERVICE_TIMEOUT_MS: '1000',
        PATIENT_SERVICE_RETRIES: '0',
        PATIENT_CACHE_TTL_MS: '0',
        LINK_CHECK_TIMEOUT_MS: '300',
        LINK_RECHECK_INTERVAL_MS: '150',
        LINK_RECHECK_MAX_MS: '400',
        DOCTOR_SERVICE_URL: doctor.webhookUrl,
        WEBHOOK_SECRET: SECRET,
        OUTBOX_POLL_INTERVAL_MS: '50',
        PATIENT_ID_ISSUER: OURS,
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

  async function post(file: Buffer, over: MetadataInput = {}, actor = PARAMEDIC): Promise<Xray> {
    const res = await postXray(server.url, validMetadata(over), blobOf(file), { 'X-Test-Actor': actor });
    expect(res.status, await res.clone().text()).toBe(201);
    return XraySchema.parse(await res.json());
  }

  async function patch(id: string, body: Record<string, unknown>): Promise<Xray> {
    const res = await call(`/xrays/${id}`, PARAMEDIC, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    return XraySchema.parse(await res.json());
  }

  /** Every outbox payload and audit detail committed for the X-ray, as text. */
  async function trail(id: string): Promise<{ events: string; audit: string; types: string[] }> {
    const ev = await server.pool.query<{ type: string; payload: unknown }>(
      'SELECT type, payload FROM outbox_events WHERE xray_id = $1 ORDER BY seq',
      [id],
    );
    const au = await server.pool.query<{ details: unknown }>(
      'SELECT details FROM audit_events WHERE xray_id = $1 ORDER BY id',
      [id],
    );
    return {
      events: JSON.stringify(ev.rows.map((r) => r.payload)),
      audit: JSON.stringify(au.rows.map((r) => r.details)),
      types: ev.rows.map((r) => r.type),
    };
  }

  const keller = (issuer: string) =>
    withIssuerElement(dicom({ ...KELLER, issuerOfPatientId: 'XX' }), element(0x10, 0x21, 'LO', Buffer.from(issuer)));

  it('odd shapes of the issuer: only our own authority (case and padding aside) is ours; anything else is a mismatch', async () => {
    const cases: { name: string; file: Buffer; ours: boolean }[] = [
      { name: 'multi-valued, ours first', file: keller('HOSPITAL-A\\CLINIC-B'), ours: false },
      { name: 'multi-valued, ours last', file: keller('CLINIC-B\\HOSPITAL-A'), ours: false },
      { name: 'backslash then ours', file: keller('\\HOSPITAL-A'), ours: false },
      { name: 'ours padded with NULs', file: keller('HOSPITAL-A\u0000\u0000'), ours: true },
      { name: 'ours, lower case, blanks around', file: keller('  hospital-a  '), ours: true },
      { name: 'ours behind a NUL', file: keller('\u0000HOSPITAL-A'), ours: false },
      { name: 'ours then a NUL then another', file: keller('HOSPITAL-A\u0000CLINIC-B'), ours: false },
      { name: 'ours with an inner blank', file: keller('HOSPITAL -A'), ours: false },
      { name: 'full-width look-alike (NFKC would fold it)', file: keller('ＨＯＳＰＩＴＡＬ-Ａ'), ours: false },
      {
        name: 'CLINIC-B as UN (explicit VR)',
        file: withIssuerElement(
          dicom({ ...KELLER, issuerOfPatientId: 'XX' }),
          element(0x10, 0x21, 'UN', Buffer.from('CLINIC-B')),
        ),
        ours: false,
      },
      {
        name: 'CLINIC-B as SH',
        file: withIssuerElement(
          dicom({ ...KELLER, issuerOfPatientId: 'XX' }),
          element(0x10, 0x21, 'SH', Buffer.from('CLINIC-B')),
        ),
        ours: false,
      },
      {
        name: 'present but blank (= absent): judged by the id',
        file: keller('    '),
        ours: true,
      },
      { name: 'a 64-character other authority', file: keller(`${'C'.repeat(63)}B`), ours: false },
    ];
    const got: Record<string, unknown> = {};
    const want: Record<string, unknown> = {};
    for (const c of cases) {
      const x = await post(c.file);
      got[c.name] = {
        identity: x.identity.status,
        fields: x.identity.fields.map((f) => `${f.field}:${f.hint ?? ''}`),
        link: `${x.link.status}/${x.link.reason ?? ''}`,
      };
      want[c.name] = c.ours
        ? { identity: 'consistent', fields: [], link: 'verified/' }
        : { identity: 'mismatch', fields: ['patientId:other_issuer'], link: 'invalid/file_patient_mismatch' };
    }
    expect(got).toEqual(want);

    // Two IssuerOfPatientID elements (dcmjs would read the first, another reader the last): refused whole.
    const twice = withIssuerElement(
      dicom({ ...KELLER, issuerOfPatientId: 'XX' }),
      Buffer.concat([
        element(0x10, 0x21, 'LO', Buffer.from('CLINIC-B')),
        element(0x10, 0x21, 'LO', Buffer.from('HOSPITAL-A')),
      ]),
    );
    const refused = await postXray(server.url, validMetadata(), blobOf(twice), { 'X-Test-Actor': PARAMEDIC });
    expect(refused.status).toBe(422);
    expect(((await refused.json()) as { code: string }).code).toBe('content_invalid');
  });

  it('a non-ASCII issuer whose upper case is ours (ſ, ı) is another authority, not HOSPITAL-A', async () => {
    // ISO_IR 192 (the testkit writes it for a non-ASCII name): the value decodes as written.
    // "HOſPITAL-A".toUpperCase() === "HOSPITAL-A" and "HOSPıTAL-A".toUpperCase() === "HOSPITAL-A":
    // JavaScript's full Unicode case mapping folds them into our authority.
    for (const issuer of ['HOſPITAL-A', 'HOSPıTAL-A']) {
      const x = await post(dicom({ ...KELLER, patientName: 'KELLER^MARÍA', issuerOfPatientId: issuer }));
      expect(x.dicom?.issuerOfPatientId, issuer).toBe(issuer);
      expect({ identity: x.identity.status, link: x.link.status }, `issuer ${issuer} was taken for ${OURS}`).toEqual({
        identity: 'mismatch',
        link: 'invalid',
      });
    }
  });

  it('STOW-RS, one body mixing issuers: each instance judged by its own (CLINIC-B flagged; ours and none verified)', async () => {
    const files = [
      dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' }),
      dicom({ ...KELLER, issuerOfPatientId: OURS }),
      dicom({ ...KELLER }),
    ];
    const res = await stowAs(
      server.url,
      PARAMEDIC,
      files.map((bytes) => ({ bytes })),
    );
    expect(res.status, await res.clone().text()).toBe(200);
    const answer = readStowAnswer((await res.json()) as Record<string, { vr: string; Value?: unknown[] }>);
    expect(answer.failed).toEqual([]);
    expect(answer.stored).toHaveLength(3);
    const xs: Xray[] = [];
    for (const s of answer.stored) {
      const [row] = await rowsOfSop(server.pool, s.sopInstanceUid);
      xs.push(await read(row!.id));
    }
    const byIssuer = Object.fromEntries(
      xs.map((x) => [
        x.dicom?.issuerOfPatientId ?? '(none)',
        { identity: x.identity.status, link: `${x.link.status}/${x.link.reason ?? ''}` },
      ]),
    );
    expect(byIssuer).toEqual({
      'CLINIC-B': { identity: 'mismatch', link: 'invalid/file_patient_mismatch' },
      [OURS]: { identity: 'consistent', link: 'verified/' },
      '(none)': { identity: 'consistent', link: 'verified/' },
    });
    const foreign = xs.find((x) => x.dicom?.issuerOfPatientId === 'CLINIC-B')!;
    await waitFor('the mismatch event', () =>
      doctor.accepted().some((e) => e.xrayId === foreign.id && e.type === 'xray.identity_mismatch'),
    );
    // Only the foreign one is announced as a mismatch.
    for (const x of xs.filter((y) => y !== foreign))
      expect((await trail(x.id)).types, x.dicom?.issuerOfPatientId ?? 'none').toEqual(['xray.uploaded']);
  });

  it('PATCH: a consultation alone, away to another patient and back: never verified; DICOMweb moves the issuer aside while away; no event or audit names it', async () => {
    const x = await post(dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' }));
    expect(x.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
    // The link checked again for a consultation of the same patient: the file rule still holds.
    const withConsultation = await patch(x.id, { consultationId: 'C-2001' });
    expect(withConsultation.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
    expect(withConsultation.identity).toMatchObject({ status: 'mismatch', fields: [{ hint: 'other_issuer' }] });

    const away = await patch(x.id, { patientId: 'P-1002', consultationId: 'C-2002' });
    expect(away.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
    expect(away.identity.fields[0]).toMatchObject({
      field: 'patientId',
      file: 'P-1001 (issuer CLINIC-B)',
      expected: 'P-1002 (issuer HOSPITAL-A)',
      hint: 'other_issuer',
    });
    const { studyInstanceUid, seriesInstanceUid, sopInstanceUid } = x.dicom ?? {};
    const meta = await call(
      `/dicom-web/studies/${studyInstanceUid}/series/${seriesInstanceUid}/instances/${sopInstanceUid}/metadata`,
      DOCTOR,
      { headers: { Accept: 'application/dicom+json' } },
    );
    expect(meta.status).toBe(200);
    const [shown] = (await meta.json()) as Record<string, { Value?: unknown[] }>[];
    expect(shown?.['00100020']?.Value).toEqual(['P-1002']);
    // P-1002 of HOSPITAL-A is never shown as issued by CLINIC-B: the file's pair is set aside.
    expect(shown?.['00100021']).toBeUndefined();
    expect(shown?.['00101002']?.Value).toEqual([
      { '00100020': { vr: 'LO', Value: ['P-1001'] }, '00100021': { vr: 'LO', Value: ['CLINIC-B'] } },
    ]);

    const back = await patch(x.id, { patientId: 'P-1001', consultationId: 'C-2001' });
    expect(back.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
    expect(back.identity).toMatchObject({
      status: 'mismatch',
      overridden: false,
      fields: [{ field: 'patientId', file: 'P-1001 (issuer CLINIC-B)', hint: 'other_issuer' }],
    });
    const t = await trail(x.id);
    expect(t.events).not.toContain('CLINIC-B');
    expect(t.events).not.toContain('(issuer');
    expect(t.audit).not.toContain('CLINIC-B');
    expect(t.types.filter((e) => e === 'xray.identity_mismatch').length).toBeGreaterThanOrEqual(2);
  });

  it('overrides: an identityOverride of other fields or keep_chosen_patient for our id does not cover it; one naming patientId does, the link staying invalid', async () => {
    const foreign = () => dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' });
    const decidedAt = '2026-11-27T08:20:00Z';
    // The paramedic decided about the name only (and kept the chosen patient, not on the roster).
    const nameOnly = await post(foreign(), {
      patientDecision: 'keep_chosen_patient',
      patientDecisionReason: 'Not on roster',
      identityOverride: { fields: ['patientName'], reason: 'Married name', decidedAt },
    });
    expect(nameOnly.identity).toMatchObject({ status: 'mismatch', overridden: false });
    expect(nameOnly.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
    // The id differing only in case and blanks: still the id the device saw as ours.
    const caseOnly = await post(dicom({ ...KELLER, patientId: ' p-1001 ', issuerOfPatientId: 'CLINIC-B' }), {
      patientDecision: 'keep_chosen_patient',
      patientDecisionReason: 'Not on roster',
    });
    expect(caseOnly.identity).toMatchObject({ status: 'mismatch', overridden: false });
    expect(caseOnly.identity.override).toBeUndefined();
    expect(caseOnly.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
    // An explicit decision about patientId (an API client that knows issuers): covered, recorded,
    // and the link is still not verified (only a patientDecision for another id excuses the file).
    const explicit = await post(foreign(), {
      identityOverride: { fields: ['patientId'], reason: 'Transferred from CLINIC-B, same person', decidedAt },
    });
    expect(explicit.identity).toMatchObject({
      status: 'mismatch',
      overridden: true,
      override: { fields: ['patientId'], from: 'identity_override' },
    });
    expect(explicit.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
  });

  it('the Patient Service down at arrival: invalid at once (never pending, never verified later), the mismatch sent once', async () => {
    patients.set('down');
    const x = await post(dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' }));
    expect(x.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
    expect(x.identity).toMatchObject({ status: 'mismatch', fields: [{ field: 'patientId', hint: 'other_issuer' }] });
    patients.set('up');
    // Several re-check rounds (150-400 ms): nothing settles it as verified.
    await new Promise((r) => setTimeout(r, 1000));
    const later = await read(x.id);
    expect(later.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
    expect(later.identity).toMatchObject({ status: 'mismatch', fields: [{ field: 'patientId' }] });
    await waitFor('link_invalid delivered', () =>
      doctor.accepted().some((e) => e.xrayId === x.id && e.type === 'xray.link_invalid'),
    );
    const t = await trail(x.id);
    expect(t.types.filter((e) => e === 'xray.identity_mismatch')).toHaveLength(1);
    expect(t.events).not.toContain('CLINIC-B');
  });

  it('who sees it: the doctor and its own paramedic; another paramedic neither reads nor lists it; no role: refused', async () => {
    const x = await post(dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' }));
    expect((await read(x.id, DOCTOR)).dicom?.issuerOfPatientId).toBe('CLINIC-B');
    expect((await read(x.id, PARAMEDIC)).dicom?.issuerOfPatientId).toBe('CLINIC-B');
    const other = await call(`/xrays/${x.id}`, OTHER_PARAMEDIC);
    expect([403, 404]).toContain(other.status);
    expect(await other.text()).not.toContain('CLINIC-B');
    const listed = async (actor: string) => {
      const res = await call('/xrays?identity=mismatch&limit=200', actor);
      return { status: res.status, text: await res.text() };
    };
    const mine = await listed(PARAMEDIC);
    expect(mine.status).toBe(200);
    expect(mine.text).toContain(x.id);
    const theirs = await listed(OTHER_PARAMEDIC);
    expect(theirs.status).toBe(200);
    expect(theirs.text).not.toContain(x.id);
    expect(theirs.text).not.toContain('CLINIC-B');
    // DICOMweb as another paramedic: the study is not theirs to search or read.
    const { studyInstanceUid: study, seriesInstanceUid: series, sopInstanceUid: sop } = x.dicom ?? {};
    const qido = await call(`/dicom-web/studies?StudyInstanceUID=${study}&includefield=00100021`, OTHER_PARAMEDIC, {
      headers: { Accept: 'application/dicom+json' },
    });
    expect(qido.status).toBe(200);
    expect(await qido.json()).toEqual([]);
    const meta = await call(`/dicom-web/studies/${study}/series/${series}/instances/${sop}/metadata`, OTHER_PARAMEDIC, {
      headers: { Accept: 'application/dicom+json' },
    });
    expect([403, 404]).toContain(meta.status);
    expect(await meta.text()).not.toContain('CLINIC-B');
    for (const path of [`/xrays/${x.id}`, '/xrays?identity=mismatch']) {
      const res = await call(path, NO_ROLE);
      expect(res.status, path).toBe(403);
      expect(await res.text()).not.toContain('CLINIC-B');
    }
  });

  it('QIDO-RS: a study list tells the clinic’s P-1001 from ours without includefield (IssuerOfPatientID or OtherPatientIDsSequence)', async () => {
    const x = await post(dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' }));
    const study = x.dicom?.studyInstanceUid;
    const res = await call(`/dicom-web/studies?StudyInstanceUID=${study}`, DOCTOR, {
      headers: { Accept: 'application/dicom+json' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('warning')).toMatch(/identity status mismatch/);
    const [hit] = (await res.json()) as Record<string, { Value?: unknown[] }>[];
    expect(hit?.['00100020']?.Value).toEqual(['P-1001']);
    // With includefield, our P-1001 is never shown as issued by CLINIC-B: the patient is the linked
    // one, and the file's own pair is set aside in OtherPatientIDsSequence (README, DICOMweb).
    const asked = await call(`/dicom-web/studies?StudyInstanceUID=${study}&includefield=00100021`, DOCTOR, {
      headers: { Accept: 'application/dicom+json' },
    });
    const [withIssuer] = (await asked.json()) as Record<string, { Value?: unknown[] }>[];
    expect(withIssuer?.['00100021']).toBeUndefined();
    expect(withIssuer?.['00101002']?.Value).toEqual([
      { '00100020': { vr: 'LO', Value: ['P-1001'] }, '00100021': { vr: 'LO', Value: ['CLINIC-B'] } },
    ]);
    // Without it: a viewer's study list must not show the clinic's patient as plainly ours (a file
    // naming another id shows OtherPatientIDsSequence by default; this one shows nothing).
    const tellsApart = hit?.['00100021']?.Value?.length || hit?.['00101002']?.Value?.length;
    expect(tellsApart, JSON.stringify(hit)).toBeTruthy();
  });
});

/**
 * The operator turns the setting on (README: set PATIENT_ID_ISSUER, restart): the X-rays already
 * stored, from the clinic's modality, were consistent and verified without it.
 */
describe('attack: turning PATIENT_ID_ISSUER on over X-rays already stored', () => {
  let patients: Awaited<ReturnType<typeof switchablePatientService>>;
  let plain: TestServer;
  const dicom = identityDicoms(48_000);

  beforeAll(async () => {
    patients = await switchablePatientService();
    plain = await startTestServer(
      'fs',
      { PATIENT_SERVICE_URL: patients.url, PATIENT_CACHE_TTL_MS: '0', LINK_CHECK_TIMEOUT_MS: '1000' },
      { authenticate: headerActor },
    );
  });
  afterAll(async () => {
    await plain?.close();
    await patients?.stop();
  });

  it('xray-admin identity-check after the setting is turned on finds the stored CLINIC-B X-ray (flagged and audited)', async () => {
    const res = await postXray(
      plain.url,
      validMetadata(),
      blobOf(dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' })),
      { 'X-Test-Actor': PARAMEDIC },
    );
    expect(res.status).toBe(201);
    const { id } = XraySchema.parse(await res.json());
    const { read } = actorCalls(() => plain, DOCTOR);
    expect((await read(id)).identity.status).toBe('consistent');
    expect((await read(id)).dicom?.issuerOfPatientId).toBe('CLINIC-B');

    // The operator's one tool for identities decided before a rule existed, with the setting now on.
    const out: string[] = [];
    const err: string[] = [];
    const code = await identityCheckCommand.run([], {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      env: { ...plain.env, PATIENT_ID_ISSUER: OURS },
    });
    expect(code).toBe(0);
    const after = await read(id);
    expect(
      { status: after.identity.status, link: after.link.status, out },
      'an X-ray stored before the setting stays consistent and verified: nothing re-checks it',
    ).toMatchObject({ status: 'mismatch', link: 'invalid' });
    const { rows } = await plain.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_events WHERE xray_id = $1 AND action = 'xray.update'`,
      [id],
    );
    expect(rows[0]?.n).toBe(1);
  });

  it('an X-ray stored before issuers were recorded: identity-check (reading its header) flags it, and then its link and a later correction agree', async () => {
    const res = await postXray(
      plain.url,
      validMetadata(),
      blobOf(dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' })),
      { 'X-Test-Actor': PARAMEDIC },
    );
    expect(res.status).toBe(201);
    const { id } = XraySchema.parse(await res.json());
    // As a row written before e27ae9e (no dicom.issuerOfPatientId) and before identity was checked.
    const notChecked = { status: 'unknown', fields: [], compared: [], reason: 'not_checked', overridden: false };
    await plain.pool.query(`UPDATE xrays SET dicom = dicom - 'issuerOfPatientId', identity = $1 WHERE id = $2`, [
      JSON.stringify(notChecked),
      id,
    ]);
    const env = { ...plain.env, PATIENT_ID_ISSUER: OURS };
    const out: string[] = [];
    const code = await identityCheckCommand.run([], { out: (l) => out.push(l), err: () => {}, env });
    expect({ code, out }).toEqual({
      code: 0,
      out: ['Checked 1 X-ray(s): 0 consistent, 1 mismatch, 0 unknown; 0 failed.', `${id}: mismatch (patientId)`],
    });
    // The server restarted with the setting (same database and store).
    const issuing = await startTestServer('fs', env, { authenticate: headerActor });
    try {
      const { read, call } = actorCalls(() => issuing, DOCTOR);
      const checked = await read(id);
      expect(checked.identity).toMatchObject({ status: 'mismatch', fields: [{ hint: 'other_issuer' }] });
      const verdict = (x: Xray) => ({
        identity: x.identity.status,
        link: `${x.link.status}/${x.link.reason ?? ''}`,
      });
      const want = { identity: 'mismatch', link: 'invalid/file_patient_mismatch' };
      // README: such a file's link is invalid (file_patient_mismatch) "in the identity check" too.
      const afterCheck = verdict(checked);
      // A correction of the consultation alone (same patient) decides identity again from the row.
      const res2 = await call(`/xrays/${id}`, PARAMEDIC, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ consultationId: 'C-2001' }),
      });
      expect(res2.status, await res2.clone().text()).toBe(200);
      const afterPatch = verdict(XraySchema.parse(await res2.json()));
      expect({ afterCheck, afterPatch }).toEqual({ afterCheck: want, afterPatch: want });
    } finally {
      await issuing.close();
    }
  });

  it('a link left pending by a server without the setting is settled by one with it: invalid, the mismatch sent, never verified', async () => {
    const own = await switchablePatientService();
    own.set('down');
    const before = await startTestServer(
      'fs',
      {
        PATIENT_SERVICE_URL: own.url,
        PATIENT_SERVICE_RETRIES: '0',
        PATIENT_CACHE_TTL_MS: '0',
        LINK_CHECK_TIMEOUT_MS: '200',
        LINK_RECHECK_INTERVAL_MS: '100',
        LINK_RECHECK_MAX_MS: '200',
      },
      { authenticate: headerActor },
    );
    let after: TestServer | undefined;
    try {
      const res = await postXray(
        before.url,
        validMetadata(),
        blobOf(dicom({ ...KELLER, issuerOfPatientId: 'CLINIC-B' })),
        { 'X-Test-Actor': PARAMEDIC },
      );
      expect(res.status).toBe(201);
      const x = XraySchema.parse(await res.json());
      expect(x.link.status).toBe('pending');
      expect(x.identity).toMatchObject({ status: 'unknown', reason: 'patient_service_unavailable' });
      // The restart with the setting: the old instance gone before the Patient Service is back.
      await before.stop();
      after = await startTestServer('fs', { ...before.env, PATIENT_ID_ISSUER: OURS }, { authenticate: headerActor });
      own.set('up');
      const { read } = actorCalls(() => after!, DOCTOR);
      const settled = await waitFor('the link to settle', async () => {
        const y = await read(x.id);
        return y.link.status !== 'pending' && y;
      });
      expect(settled.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
      expect(settled.identity).toMatchObject({
        status: 'mismatch',
        fields: [{ field: 'patientId', file: 'P-1001 (issuer CLINIC-B)', hint: 'other_issuer' }],
      });
      const { rows } = await after.pool.query<{ type: string; payload: unknown }>(
        'SELECT type, payload FROM outbox_events WHERE xray_id = $1 ORDER BY seq',
        [x.id],
      );
      expect(rows.map((r) => r.type)).toEqual(expect.arrayContaining(['xray.link_invalid', 'xray.identity_mismatch']));
      expect(JSON.stringify(rows.map((r) => r.payload))).not.toContain('CLINIC-B');
    } finally {
      await after?.close();
      await before.close().catch(() => {});
      await own.stop();
    }
  });
});
