import { createHash, randomUUID } from 'node:crypto';
import type { ClientRequest } from 'node:http';
import { makeDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsOf } from './audit.support.ts';
import { blobOf, headerActor, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { holdUnread as holdUnreadAs } from './unread-downloads.ts';
import { multipartParts } from './multipart-parts.ts';

/**
 * A user's streaming answers at once (DOWNLOAD_MAX_STREAMS_PER_USER, 2 here; 32 may wait): each
 * holds a store read for as long as its client leaves it unread. One user holding theirs makes
 * their own further downloads, WADO-RS retrieves and frames wait their turn (and refuses those
 * past the line with 429), while another user's download is served at once.
 */
const LIMIT = 2;
const LINE = 16 * LIMIT;

const MEDIC_A = 'medic-slots-a; paramedic';
const MEDIC_B = 'medic-slots-b; paramedic';
const DOCTOR = 'doctor-slots; doctor';
const STUDY = '1.2.826.0.1.3680043.10.19.81';
const SERIES = `${STUDY}.1`;
const SOP = `${SERIES}.1`;
/** 8 frames of 1024 × 1024 16-bit pixels: 16 MiB, far more than an unread connection buffers. */
const FRAME_BYTES = 1024 * 1024 * 2;

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('per-user download slots', () => {
  let server: TestServer;
  const held: ClientRequest[] = [];
  let big: Buffer;
  let bigId: string;
  let othersId: string;

  const get = (path: string, actor: string, requestId = randomUUID()) =>
    fetch(`${server.url}${path}`, { headers: { 'X-Test-Actor': actor, 'X-Request-Id': requestId } });

  /** A download whose answer has begun (its slot taken) and that its client then leaves unread. */
  const holdUnread = (path: string, actor: string) => holdUnreadAs(server.url, path, actor, held);

  beforeAll(async () => {
    server = await startTestServer(
      'fs',
      { DOWNLOAD_MAX_STREAMS_PER_USER: String(LIMIT) },
      { authenticate: headerActor },
    );
    big = makeDicom({
      rows: 1024,
      columns: 1024,
      frames: 8,
      seed: 811,
      studyInstanceUid: STUDY,
      seriesInstanceUid: SERIES,
      sopInstanceUid: SOP,
    });
    bigId = randomUUID();
    othersId = randomUUID();
    for (const [id, bytes, actor] of [
      [bigId, big, MEDIC_A],
      [othersId, makeDicom({ rows: 16, columns: 16, seed: 812 }), MEDIC_B],
    ] as const) {
      const res = await postXray(server.url, validMetadata({ id }), blobOf(bytes), { 'X-Test-Actor': actor });
      expect(res.status, await res.clone().text()).toBe(201);
    }
  }, 60_000);
  afterAll(async () => {
    for (const r of held) r.destroy();
    await server?.close();
  });

  it("beyond the limit a user's requests wait and are served in turn, past the line 429; authorization first; another user is not held up", async () => {
    const download = `/xrays/${bigId}/download`;
    const holders = [await holdUnread(download, MEDIC_A), await holdUnread(download, MEDIC_A)];

    // Every door that streams stored bytes shares the user's line: downloads, a WADO-RS retrieve, a frame.
    const kinds = ['download', 'download', 'retrieve', ...Array<string>(LINE - 3).fill('frame')];
    const paths: Record<string, string> = {
      download,
      retrieve: `/dicom-web/studies/${STUDY}/series/${SERIES}/instances/${SOP}`,
      frame: `/dicom-web/studies/${STUDY}/series/${SERIES}/instances/${SOP}/frames/8`,
    };
    let answered = 0;
    let twoAnswered!: () => void;
    const untilTwo = new Promise<void>((resolve) => (twoAnswered = resolve));
    const asked = [...kinds, 'frame', 'frame'].map((kind) => {
      const requestId = randomUUID();
      const res = get(paths[kind]!, MEDIC_A, requestId).then((r) => {
        if (++answered === 2) twoAnswered();
        return r;
      });
      return { kind, requestId, res };
    });
    expect(asked).toHaveLength(LINE + 2);

    // The line holds LINE: the two past it are refused at once, whichever they are.
    await untilTwo;
    const refused: { requestId: string; r: Response; body: { code: string } }[] = [];
    for (const a of asked) {
      const r = await Promise.race([a.res, Promise.resolve(undefined)]);
      if (r) refused.push({ ...a, r, body: (await r.json()) as { code: string } });
    }
    expect(
      refused.map((x) => `${x.r.status} ${x.r.headers.get('content-type')?.split(';')[0]} ${x.body.code}`),
    ).toEqual(Array(2).fill('429 application/problem+json too_many_downloads'));
    for (const x of refused) {
      expect(x.r.headers.get('retry-after')).toBe('5');
      const events = await eventsOf(server.pool, x.requestId);
      expect(events.map((e) => [e.action, e.outcome, e.xray_id, e.details.error, e.details.status])).toEqual([
        ['xray.download', 'failed', bigId, 'too_many_downloads', 429],
      ]);
    }
    const waiting = asked.filter((a) => !refused.some((x) => x.requestId === a.requestId));

    // Someone else's X-ray is still the one 404, decided before any slot or line.
    const denied = await get(`/xrays/${othersId}/download`, MEDIC_A);
    expect(`${denied.status} ${((await denied.json()) as { code: string }).code}`).toBe('404 not_found');

    // Another user is served at once, byte-exact.
    const other = await get(download, DOCTOR);
    expect(other.status).toBe(200);
    expect(sha256(Buffer.from(await other.arrayBuffer()))).toBe(sha256(big));

    // None of A's waiting requests has been answered meanwhile.
    expect(await Promise.race([...waiting.map((w) => w.res), Promise.resolve('none yet')])).toBe('none yet');

    // One held answer ends: the first in line gets its slot and is served; the rest follow in turn.
    holders[0]!.destroy();
    const first = await Promise.race(waiting.map((w) => w.res.then(() => w)));
    expect((await first.res).status).toBe(200);
    holders[1]!.destroy();
    for (const w of waiting) {
      const r = await w.res;
      expect(r.status, w.kind).toBe(200);
      const body = Buffer.from(await r.arrayBuffer());
      if (w.kind === 'download') expect(sha256(body), w.kind).toBe(sha256(big));
      else {
        const [part, ...more] = multipartParts(body, r.headers.get('content-type') ?? '');
        expect(more).toEqual([]);
        const want = w.kind === 'retrieve' ? big : big.subarray(big.length - FRAME_BYTES);
        expect(sha256(part!.bytes), w.kind).toBe(sha256(want));
      }
    }

    const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
    const count = (outcome: string) =>
      Number(new RegExp(`^xray_download_slots_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    expect({ queue_full: count('queue_full'), waited: count('waited') }).toEqual({ queue_full: 2, waited: LINE });
  });
});
