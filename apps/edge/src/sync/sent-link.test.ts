import { describe, expect, it } from 'vitest';
import { unwrapWithDeviceKey } from '../crypto/device-key.ts';
import { openMetadata } from '../crypto/metadata.cipher.ts';
import { createSentLinks } from './sent-link.ts';
import { blobOf, engineRig, smallPng, validInput } from '../../test/fixtures.ts';

/** The server's X-ray as GET/PATCH /xrays/{id} answer it. */
const xrayOf = (id: string, patientId: string, changeSeq: number, link: Record<string, unknown>) => ({
  id,
  patientId,
  consultationId: null,
  capturedAt: '2026-11-27T08:15:00.000Z',
  capturedBy: { sub: 'demo-paramedic', name: null },
  deviceId: null,
  bodyPart: 'CHEST',
  view: 'PA',
  priority: 'routine',
  notes: null,
  contentType: 'image/png',
  sizeBytes: 10,
  sha256: 'a'.repeat(64),
  dicom: null,
  link,
  identity: { status: 'unknown', fields: [], compared: [], reason: 'not_dicom', overridden: false },
  dicomUidConflict: false,
  uploadedAt: '2026-11-27T08:16:00.000Z',
  changeSeq,
});

/**
 * A server holding one X-ray at version `seq`: GET answers it with its ETag; PATCH applies only
 * to the current version when If-Match is sent (412 otherwise), as the sync server does.
 */
function fakeServer(id: string) {
  const state = {
    seq: 5,
    patientId: 'P-UNKNOWN',
    link: { status: 'invalid', reason: 'unknown_patient' } as Record<string, unknown>,
  };
  const requests: { method: string; ifMatch: string | null }[] = [];
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), {
      status,
      headers: { 'Content-Type': status < 400 ? 'application/json' : 'application/problem+json', ...headers },
    });
  const fetch = async (input: RequestInfo | URL): Promise<Response> => {
    const req = input instanceof Request ? input : new Request(input);
    requests.push({ method: req.method, ifMatch: req.headers.get('if-match') });
    const etag = `"v${state.seq}"`;
    if (req.method === 'GET') return json(200, xrayOf(id, state.patientId, state.seq, state.link), { ETag: etag });
    const ifMatch = req.headers.get('if-match');
    if (ifMatch !== null && ifMatch !== etag)
      return json(412, {
        type: 'x',
        title: 'A precondition of the request is not met',
        status: 412,
        code: 'precondition_failed',
      });
    const body = (await req.json()) as { patientId: string };
    state.seq++;
    state.patientId = body.patientId;
    state.link = { status: 'verified' };
    return json(200, xrayOf(id, state.patientId, state.seq, state.link), { ETag: `"v${state.seq}"` });
  };
  return { state, requests, fetch };
}

describe('sent links: the fix applies only to the version the paramedic was shown', () => {
  it('sends the ETag it read as If-Match, keeps the new one, and drops a decision made for the old patient', async () => {
    const rig = await engineRig();
    const c = await rig.capture(
      blobOf(smallPng(81)),
      validInput({ patientDecision: 'keep_chosen_patient', patientDecisionReason: 'wristband checked' }),
    );
    const server = fakeServer(c.id);
    const links = createSentLinks({
      db: rig.db,
      baseUrl: 'https://sync.example',
      authorize: async () => ({ Authorization: 'Bearer t' }),
      fetch: server.fetch,
    });
    expect(await links.check(c.id)).toBe(true);
    expect((await rig.db.captures.get(c.id))?.serverLink).toMatchObject({ status: 'invalid', etag: '"v5"' });

    const fixed = await links.fixPatient(c.id, ' P-2002 ');
    expect(fixed.patientId).toBe('P-2002');
    expect(server.requests.at(-1)).toEqual({ method: 'PATCH', ifMatch: '"v5"' });
    const record = await rig.db.captures.get(c.id);
    expect(record?.serverLink).toMatchObject({ status: 'verified', etag: '"v6"' });
    // The sealed metadata names the new patient, without the decision made for the previous one
    // (as the server drops it): a resend repeats what the server holds.
    const dek = await unwrapWithDeviceKey(rig.db, record!.wrappedDek, record!.keyId);
    const { xray } = await openMetadata(dek, record!.encryptedMetadata);
    expect(xray.patientId).toBe('P-2002');
    expect(xray.patientDecision).toBeUndefined();
    expect(xray.patientDecisionReason).toBeUndefined();
  });

  it('when the X-ray changed on the server meanwhile: nothing applied, read again, and the paramedic is told', async () => {
    const rig = await engineRig();
    const c = await rig.capture(blobOf(smallPng(82)), validInput());
    const server = fakeServer(c.id);
    const links = createSentLinks({
      db: rig.db,
      baseUrl: 'https://sync.example',
      authorize: async () => ({ Authorization: 'Bearer t' }),
      fetch: server.fetch,
    });
    await links.check(c.id);
    // A doctor corrects it on the server after the paramedic was shown version 5.
    server.state.seq = 7;
    server.state.patientId = 'P-BY-DOCTOR';
    server.state.link = { status: 'verified' };

    await expect(links.fixPatient(c.id, 'P-2002')).rejects.toThrow(/changed on the server meanwhile/);
    expect(server.state.patientId).toBe('P-BY-DOCTOR');
    expect(server.requests.map((r) => r.method)).toEqual(['GET', 'PATCH', 'GET']);
    // What the device shows now is the server's current state, and the next fix is made on it.
    expect((await rig.db.captures.get(c.id))?.serverLink).toMatchObject({ status: 'verified', etag: '"v7"' });
  });
});
