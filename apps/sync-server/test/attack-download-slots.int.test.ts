import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { ClientRequest } from 'node:http';
import { connect } from 'node:net';
import { makeDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsOf, type EventRow } from './audit.support.ts';
import { blobOf, headerActor, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { holdUnread as holdUnreadAs } from './unread-downloads.ts';

/**
 * Attacks on the per-user streaming slots (DOWNLOAD_MAX_STREAMS_PER_USER, 1 here; 16 may wait,
 * each for at most 3 s). Whatever a client does to its connections, the user's slots come back
 * once those connections are gone: a later download is served at once.
 */
const MEDIC = 'medic-atk-slots; paramedic';
const LINE = 16;
const STUDY = '1.2.826.0.1.3680043.10.19.83';
const SERIES = `${STUDY}.1`;
const SOP = `${SERIES}.1`;

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('attack: per-user download slots', () => {
  let server: TestServer;
  const held: ClientRequest[] = [];
  let big: Buffer;
  let bigId: string;
  let small: Buffer;
  let smallId: string;

  const get = (path: string, actor = MEDIC, requestId = randomUUID()) =>
    fetch(`${server.url}${path}`, { headers: { 'X-Test-Actor': actor, 'X-Request-Id': requestId } });

  /** Polls the trail until the request's event is there (the handler records it as it ends). */
  const eventsWhenRecorded = async (requestId: string): Promise<EventRow[]> => {
    for (;;) {
      const events = await eventsOf(server.pool, requestId);
      if (events.length) return events;
      await new Promise((resolve) => setImmediate(resolve));
    }
  };

  /** A download whose answer has begun (its slot taken) and that its client then leaves unread. */
  const holdUnread = (path: string) => holdUnreadAs(server.url, path, MEDIC, held);

  /** A download the user can still have at once: its slots are all back. */
  const servedAtOnce = async (id: string, bytes: Buffer) => {
    const r = await get(`/xrays/${id}/download`);
    expect(r.status).toBe(200);
    expect(sha256(Buffer.from(await r.arrayBuffer()))).toBe(sha256(bytes));
  };

  beforeAll(async () => {
    server = await startTestServer(
      'fs',
      { DOWNLOAD_MAX_STREAMS_PER_USER: '1', DOWNLOAD_STREAM_WAIT_MS: '3000' },
      { authenticate: headerActor },
    );
    // 16 MiB: far more than an unread connection buffers.
    big = makeDicom({
      rows: 1024,
      columns: 1024,
      frames: 8,
      seed: 831,
      studyInstanceUid: STUDY,
      seriesInstanceUid: SERIES,
      sopInstanceUid: SOP,
    });
    small = makeDicom({ rows: 16, columns: 16, seed: 832 });
    bigId = randomUUID();
    smallId = randomUUID();
    for (const [id, bytes] of [
      [bigId, big],
      [smallId, small],
    ] as const) {
      const res = await postXray(server.url, validMetadata({ id }), blobOf(bytes), { 'X-Test-Actor': MEDIC });
      expect(res.status, await res.clone().text()).toBe(201);
    }
  }, 60_000);
  afterAll(async () => {
    for (const r of held) r.destroy();
    await server?.close();
  });

  it('a download pipelined behind another on one connection that then closes keeps no slot', async () => {
    // HTTP/1.1 pipelining: the second request is sent before the first answer is read. Node runs
    // both handlers at once, but the second answer has no socket yet: it never hears the close.
    const { hostname, port } = new URL(server.url);
    const socket = connect(Number(port), hostname);
    await once(socket, 'connect');
    const ask = `GET /xrays/${bigId}/download HTTP/1.1\r\nHost: ${hostname}\r\nX-Test-Actor: ${MEDIC}\r\n\r\n`;
    socket.write(ask + ask);
    // The first answer has begun (its slot taken); the client reads no more, then goes away.
    const [first] = (await once(socket, 'data')) as [Buffer];
    expect(first.toString('latin1').split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    socket.pause();
    socket.destroy();

    await servedAtOnce(smallId, small);
  });

  it('pipelined requests on a connection read to the end are still answered, in order', async () => {
    const { hostname, port } = new URL(server.url);
    const socket = connect(Number(port), hostname);
    await once(socket, 'connect');
    const ask = (path: string, close = false) =>
      `GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nX-Test-Actor: ${MEDIC}\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;
    socket.write(
      ask(`/xrays/${smallId}/download`) + ask(`/xrays/${smallId}/download`) + ask(`/xrays/${smallId}`, true),
    );
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    await once(socket, 'end');
    const text = Buffer.concat(chunks).toString('latin1');
    const statuses = text.match(/HTTP\/1\.1 \d{3}/g);
    expect(statuses).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200']);
    expect(text.lastIndexOf(`"id":"${smallId}"`)).toBeGreaterThan(text.lastIndexOf('HTTP/1.1 200'));
  });

  it('waiters whose clients go away are refused once each as client_closed, and the slot comes back', async () => {
    const holder = await holdUnread(`/xrays/${bigId}/download`);
    // One more than the line holds: the first answered is the one refused at once, so the others are all in it.
    const asked = Array.from({ length: LINE + 1 }, () => {
      const controller = new AbortController();
      const requestId = randomUUID();
      const answered = fetch(`${server.url}/xrays/${smallId}/download`, {
        headers: { 'X-Test-Actor': MEDIC, 'X-Request-Id': requestId },
        signal: controller.signal,
      });
      return { controller, requestId, answered };
    });
    const refused = await Promise.race(asked.map((a) => a.answered.then((r) => ({ a, r }))));
    expect(refused.r.status).toBe(429);
    const waiting = asked.filter((a) => a !== refused.a);
    for (const w of waiting) w.controller.abort();
    for (const w of waiting) {
      await expect(w.answered).rejects.toThrow();
      const events = await eventsWhenRecorded(w.requestId);
      expect(events.map((e) => [e.action, e.outcome, e.details.error])).toEqual([
        ['xray.download', 'failed', 'client_closed'],
      ]);
    }
    holder.destroy();
    await once(holder, 'close');
    await servedAtOnce(smallId, small);
  });

  it("a frame the instance does not have is 404 at once, while the user's slot is taken: no wait in line, no 429", async () => {
    const holder = await holdUnread(`/xrays/${bigId}/download`);
    const frames = `/dicom-web/studies/${STUDY}/series/${SERIES}/instances/${SOP}/frames`;
    const r = await get(`${frames}/9`);
    expect(`${r.status} ${((await r.json()) as { code: string }).code}`).toBe('404 not_found');
    holder.destroy();
    await once(holder, 'close');
    await servedAtOnce(smallId, small);
  });
});
