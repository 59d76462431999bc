// Reading the audit trail: GET /audit's filters and cursor pagination, and the FHIR R4 export.
import { randomUUID } from 'node:crypto';
import { makePng } from '@xray/testkit';
import { AuditEventListSchema, FhirAuditBundleSchema } from '@xray/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, AUDIT_SERVER_ENV, DOCTOR, PARAMEDIC, auditCalls, idOf } from './audit.support.ts';
import { blobOf, headerActor, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';

describe('audit trail: GET /audit', () => {
  let server: TestServer;
  const { call } = auditCalls(() => server);

  beforeAll(async () => {
    server = await startTestServer('fs', AUDIT_SERVER_ENV, { authenticate: headerActor });
    // A refusal on the trail for the export to show: a doctor may not read the audit trail.
    expect((await call('/audit', DOCTOR)).res.status).toBe(403);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('GET /audit filters by X-ray, patient, actor, action, outcome and time, with cursor pagination', async () => {
    const p = `P-${randomUUID().slice(0, 8)}`;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await postXray(server.url, validMetadata({ patientId: p }), blobOf(makePng({ seed: 30 + i })), {
        'X-Test-Actor': 'para-2; paramedic',
      });
      expect(res.status).toBe(201);
      ids.push(await idOf(res));
    }
    for (const id of ids) expect((await call(`/xrays/${id}`, 'doc-2; doctor')).res.status).toBe(200);

    const get = async (query: string) => {
      const res = await fetch(`${server.url}/audit?${query}`, { headers: { 'X-Test-Actor': ADMIN } });
      expect(res.status).toBe(200);
      return AuditEventListSchema.parse(await res.json());
    };

    const byPatient = await get(`patientId=${p}`);
    expect(byPatient.items.map((e) => e.action)).toEqual([
      'xray.read',
      'xray.read',
      'xray.read',
      'xray.create',
      'xray.create',
      'xray.create',
    ]);
    expect(byPatient.items[0]).toMatchObject({ actor: { sub: 'doc-2', roles: ['doctor'] }, outcome: 'success' });
    expect((await get(`xrayId=${ids[1]}`)).items.map((e) => e.action)).toEqual(['xray.read', 'xray.create']);
    expect((await get(`actor=para-2&action=xray.create`)).items.map((e) => e.xrayId)).toEqual([...ids].reverse());
    expect((await get(`patientId=${p}&outcome=denied`)).items).toEqual([]);

    const all = (await get(`patientId=${p}&order=asc`)).items;
    const middle = all[2];
    if (!middle) throw new Error('too few events');
    const from = (await get(`patientId=${p}&from=${encodeURIComponent(middle.at)}&order=asc`)).items;
    expect(from.map((e) => e.id)).toEqual(all.filter((e) => e.at >= middle.at).map((e) => e.id));
    const until = (await get(`patientId=${p}&to=${encodeURIComponent(middle.at)}&order=asc`)).items;
    expect(until.map((e) => e.id)).toEqual(all.filter((e) => e.at < middle.at).map((e) => e.id));

    for (const order of ['asc', 'desc'] as const) {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { items: { id: string }[]; nextCursor: string | null } = await get(
          `patientId=${p}&order=${order}&limit=4${cursor ? `&cursor=${cursor}` : ''}`,
        );
        seen.push(...page.items.map((e) => e.id));
        cursor = page.nextCursor;
      } while (cursor);
      const expected = all.map((e) => e.id);
      expect(seen).toEqual(order === 'asc' ? expected : [...expected].reverse());
    }

    const bad = await call('/audit?action=xray.explode&from=yesterday', ADMIN);
    expect(bad.res.status).toBe(400);
    const badCursor = await call(`/audit?cursor=${Buffer.from('asc:1').toString('base64url')}`, ADMIN);
    expect(badCursor.res.status).toBe(400);
  });

  it('exports FHIR R4 AuditEvent resources as a searchset Bundle', async () => {
    const p = `P-${randomUUID().slice(0, 8)}`;
    const created = await postXray(server.url, validMetadata({ patientId: p }), blobOf(makePng({ seed: 40 })), {
      'X-Test-Actor': PARAMEDIC,
    });
    const id = await idOf(created);
    await call(`/xrays/${id}/download`, DOCTOR);
    await call(`/xrays?patientId=${p}`, DOCTOR);

    const res = await fetch(`${server.url}/audit?patientId=${p}&format=fhir&order=asc&limit=2`, {
      headers: { 'X-Test-Actor': ADMIN },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    const bundle = FhirAuditBundleSchema.parse(await res.json());
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
    const [create, download] = bundle.entry.map((e) => e.resource);
    expect(create).toMatchObject({
      resourceType: 'AuditEvent',
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
      subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'create' }, { code: 'xray.create' }],
      action: 'C',
      outcome: '0',
      agent: [
        {
          who: { identifier: { value: 'para-1' } },
          requestor: true,
          role: [{ text: 'paramedic' }],
          network: { address: expect.stringMatching(/127\.0\.0\.1$/), type: '2' },
        },
      ],
      source: { observer: { display: 'xray-sync-server' } },
    });
    expect(create?.recorded).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(create?.entity).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          what: expect.objectContaining({ identifier: { system: 'urn:ietf:rfc:3986', value: `urn:uuid:${id}` } }),
        }),
        expect.objectContaining({
          what: expect.objectContaining({ reference: `Patient/${p}` }),
          role: expect.objectContaining({ code: '1', display: 'Patient' }),
        }),
      ]),
    );
    expect(download).toMatchObject({ action: 'R', subtype: [{ code: 'read' }, { code: 'xray.download' }] });

    const next = bundle.link.find((l) => l.relation === 'next');
    expect(next).toBeDefined();
    const page2 = FhirAuditBundleSchema.parse(
      await (await fetch(next?.url ?? '', { headers: { 'X-Test-Actor': ADMIN } })).json(),
    );
    const list = page2.entry[0]?.resource;
    expect(list).toMatchObject({ action: 'E', subtype: [{ code: 'search-type' }, { code: 'xray.list' }] });
    expect(list?.entity?.some((e) => e.role?.code === '24' && typeof e.query === 'string')).toBe(true);

    const denied = await fetch(`${server.url}/audit?action=access.denied&format=fhir&limit=1`, {
      headers: { 'X-Test-Actor': ADMIN },
    });
    const deniedEvent = FhirAuditBundleSchema.parse(await denied.json()).entry[0]?.resource;
    expect(deniedEvent).toMatchObject({ outcome: '4', subtype: [{ code: 'search-type' }, { code: 'access.denied' }] });
  });
});
