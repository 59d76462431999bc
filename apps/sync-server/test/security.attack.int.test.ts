import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { makeDicom, sha256Hex } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobOf, countRows, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { sealed, tusCreate } from './tus-client.ts';

/**
 * An independent attack on the hardening of issue 15: each test is a finding, asserting what an
 * attacker or another user sees. They fail until the finding is fixed.
 */

/** One explicit-VR-little-endian data element (long VRs with their 4-byte length). */
function element(group: number, elem: number, vr: string, value: Buffer): Buffer {
  const long = ['OB', 'OW', 'SQ', 'UN', 'UT'].includes(vr);
  const header = Buffer.alloc(long ? 12 : 8);
  header.writeUInt16LE(group, 0);
  header.writeUInt16LE(elem, 2);
  header.write(vr, 4, 'latin1');
  if (long) header.writeUInt32LE(value.length, 8);
  else header.writeUInt16LE(value.length, 6);
  return Buffer.concat([header, value]);
}

const us = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};

/**
 * A structurally valid DICOM (2×2, 8 bits) whose data set holds one undefined-length
 * sequence holding `items` empty items (8 bytes each): every item costs the walker a container
 * push, several microseconds, and a 1 MiB decrypted segment is walked in one synchronous call.
 */
function emptyItemsDicom(items: number): Buffer {
  const sequence = Buffer.alloc(12);
  // (0040,0275) Request Attributes Sequence: after the image attributes, so the header still reads.
  sequence.writeUInt16LE(0x0040, 0);
  sequence.writeUInt16LE(0x0275, 2);
  sequence.write('SQ', 4, 'latin1');
  sequence.writeUInt32LE(0xffffffff, 8);
  const item = Buffer.from([0xfe, 0xff, 0x00, 0xe0, 0, 0, 0, 0]);
  const sequenceEnd = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
  return Buffer.concat([
    Buffer.alloc(128),
    Buffer.from('DICM'),
    element(0x0002, 0x0010, 'UI', Buffer.from('1.2.840.10008.1.2.1\0')),
    element(0x0028, 0x0002, 'US', us(1)),
    element(0x0028, 0x0010, 'US', us(2)),
    element(0x0028, 0x0011, 'US', us(2)),
    element(0x0028, 0x0100, 'US', us(8)),
    sequence,
    Buffer.alloc(items * item.length, item),
    sequenceEnd,
    element(0x7fe0, 0x0010, 'OB', Buffer.alloc(4)),
  ]);
}

describe('security attack on the issue 15 hardening', () => {
  let server: TestServer;
  let edgeDir: string;

  beforeAll(async () => {
    edgeDir = await mkdtemp(path.join(tmpdir(), 'xray-edge-attack-'));
    await mkdir(path.join(edgeDir, 'assets'));
    await writeFile(path.join(edgeDir, 'index.html'), '<!doctype html><title>app</title>');
    await writeFile(path.join(edgeDir, 'assets', 'main-abc123.js'), 'console.log(1)');
    await writeFile(path.join(edgeDir, 'assets', 'main-abc123.js.map'), '{"sourcesContent":["secret source"]}');
    server = await startTestServer('fs', { EDGE_APP_DIR: edgeDir });
  });
  afterAll(async () => {
    await server?.close();
    await rm(edgeDir, { recursive: true, force: true });
  });

  it('a source map is not served when its name is percent-encoded (/assets/x.js.ma%70)', async () => {
    // The guard looks at the raw path (req.path), express.static at the decoded one.
    for (const p of ['/assets/main-abc123.js.ma%70', '/assets/main-abc123.js%2Emap']) {
      const res = await fetch(`${server.url}${p}`);
      const body = await res.text();
      expect(body, p).not.toContain('secret source');
      expect(res.status, p).toBe(404);
    }
  });

  it.each([
    ['U+200E LEFT-TO-RIGHT MARK', '\u200e'],
    ['U+200F RIGHT-TO-LEFT MARK', '\u200f'],
    ['U+061C ARABIC LETTER MARK', '\u061c'],
  ])('deviceId with the bidi control %s: 400 naming deviceId, nothing stored', async (_label, mark) => {
    // Unicode's Bidi_Control set is U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069.
    const before = await countRows(server);
    const res = await postXray(
      server.url,
      validMetadata({ deviceId: `TAB-${mark}12`, notes: `left ${mark}right` }),
      blobOf(makeDicom()),
    );
    const problem = (await res.json()) as { code?: string; errors?: { field: string }[] };
    expect(res.status).toBe(400);
    expect(problem.errors?.map((e) => e.field)).toContain('metadata.deviceId');
    expect(await countRows(server)).toBe(before);
  });

  it('a DICOM whose TIFF preamble carries a PDF header (a DICOM/PDF polyglot) is refused 422', async () => {
    const bytes = makeDicom();
    // "II*\0" makes the preamble a TIFF header; "%PDF-" in the first 1024 bytes is what PDF readers look for.
    Buffer.from('II*\0%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1').copy(bytes, 0);
    const before = await countRows(server);
    const res = await postXray(server.url, validMetadata({ sha256: sha256Hex(bytes) }), blobOf(bytes));
    const problem = (await res.json()) as { code?: string };
    expect(res.status).toBe(422);
    expect(problem.code).toBe('content_invalid');
    expect(await countRows(server)).toBe(before);
  });

  it("one paramedic's DICOM of empty sequence items does not stall other users' requests, and is refused", async () => {
    // 8 MiB: a million empty items. Sent in one PATCH, walked one 1 MiB XRE1 segment at a time; a
    // header that has not reached its pixel data by DICOM_MAX_HEADER_BYTES (1 MiB) is refused.
    const plain = emptyItemsDicom(1024 * 1024);
    const { body, metadata } = await sealed(server.url, plain);
    const url = await tusCreate(server.url, body, metadata);

    // The server runs in this process: its event loop is this one. While it is blocked, no
    // other user's request is read, let alone answered.
    const stalls = monitorEventLoopDelay({ resolution: 10 });
    stalls.enable();
    const started = performance.now();
    const res = await fetch(url, {
      method: 'PATCH',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Offset': '0',
        'Content-Type': 'application/offset+octet-stream',
      },
      body: new Uint8Array(body),
    });
    const answer = Buffer.from(await res.arrayBuffer()).toString('utf8');
    const tookMs = performance.now() - started;
    stalls.disable();
    const worstStallMs = stalls.max / 1e6;

    expect(res.status).toBe(422);
    expect(JSON.parse(answer)).toMatchObject({ code: 'content_invalid', detail: expect.stringMatching(/header/i) });
    // No single stall of the server a user would notice…
    expect(worstStallMs, `worst event-loop stall ${Math.round(worstStallMs)} ms`).toBeLessThan(250);
    // …and an 8 MiB file judged in well under the time it takes to send it over a slow link
    // (MAX_UPLOAD_BYTES is 1 GiB: at this rate one upload holds a core for half an hour).
    expect(tookMs, `8 MiB judged in ${Math.round(tookMs)} ms`).toBeLessThan(2_000);
  }, 120_000);
});
