// Attack on three changes of session 9:
// - 4b552d2: a not_renderable render remembered (in memory, per X-ray content and parameters) and
//   refused again without decoding. Authorization still first (no 422 for someone who may not see
//   the X-ray), every request audited once, the same problem+json, transient failures not kept.
// - 7e2ea0f: `xray-admin check` names the cached renders of X-rays with no row and `recover`
//   removes them: odd keys under renders/, an empty store, nothing outside renders/ touched and no
//   render of a live X-ray removed.
// - 5217308: ObjectStore.sync (the finished tus upload made durable): here an EIO on the X-ray's
//   directory during the finish; odd keys and fsync failures in src/storage/fs.store.attack.test.ts.
//   Expected to fail until fixed: 'EIO … in release (copy)' (a link left at the X-ray's key) and
//   'on disk, a file under an orphan's renders/ whose name is not a store key'.
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { makeDicom, makePng, sha256Hex } from '@xray/testkit';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { checkCommand } from '../src/cli/check.command.ts';
import { recoverCommand } from '../src/cli/recover.command.ts';
import { rendersPrefixOf } from '../src/rendering/render.cache.ts';
import { xrayRepository } from '../src/xrays/xray.repository.ts';
import { ADMIN, DOCTOR, eventsOf, PARAMEDIC } from './audit.support.ts';
import {
  blobOf,
  headerActor,
  storedObjects,
  postXray,
  startTestServer,
  validMetadata,
  type StorageKind,
  type TestServer,
} from './harness.ts';
import { runCommand as run } from './command.support.ts';
import { encodeMeta, sealed, startTus } from './tus-client.ts';

/** While set, an fsync of a path it matches fails as a dying disk does (EIO). */
const disk = vi.hoisted(() => ({ failing: undefined as RegExp | undefined, failed: 0, skip: 0 }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof real.open = async (...args) => {
    const fh = await real.open(...args);
    const at = String(args[0]);
    const sync = fh.sync.bind(fh);
    fh.sync = async () => {
      if (disk.failing?.test(at) && disk.skip-- <= 0) {
        disk.failed++;
        throw Object.assign(new Error(`EIO: i/o error, fsync '${at}'`), { code: 'EIO', errno: -5, syscall: 'fsync' });
      }
      await sync();
    };
    return fh;
  };
  return { ...real, open, default: { ...real, open } };
});

const OTHER_PARAMEDIC = 'para-2; paramedic';
/** Small enough that a 300 × 300 image is refused (not_renderable) before anything is decoded. */
const MAX_PIXELS = 50_000;

async function rendersCount(server: TestServer, outcome: string): Promise<number> {
  const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
  const m = new RegExp(`^xray_renders_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text);
  return Number(m?.[1] ?? 0);
}

/** A problem+json answer without what differs per request (the instance path). */
async function problemOf(res: Response): Promise<{ status: number; type: string | null; body: unknown }> {
  const body = (await res.json()) as Record<string, unknown>;
  delete body.instance;
  return { status: res.status, type: res.headers.get('content-type'), body };
}

describe('attack 4b552d2: not_renderable refused again', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(
      'fs',
      { RENDER_MAX_PIXELS: String(MAX_PIXELS), AUDIT_CHECKPOINT_INTERVAL_MS: String(3600_000) },
      { authenticate: headerActor },
    );
  });
  afterAll(async () => server?.close());

  async function upload(bytes: Uint8Array, actor = PARAMEDIC, patientId = 'P-1001') {
    const res = await postXray(server.url, validMetadata({ patientId }), blobOf(bytes), { 'X-Test-Actor': actor });
    expect(res.status, await res.clone().text()).toBe(201);
    return (await res.json()) as {
      id: string;
      dicom?: { studyInstanceUid: string; seriesInstanceUid: string; sopInstanceUid: string };
    };
  }
  const preview = (id: string, actor: string, requestId: string, query = '?size=64') =>
    fetch(`${server.url}/xrays/${id}/preview${query}`, {
      headers: { 'X-Test-Actor': actor, 'X-Request-Id': requestId },
    });
  const dicomweb = (p: string, actor: string, requestId: string) =>
    fetch(`${server.url}/dicom-web${p}`, { headers: { 'X-Test-Actor': actor, 'X-Request-Id': requestId } });

  it('REST preview: after a refusal is remembered, who may not see the X-ray still gets 404/403 (never 422), each request audited once, the same problem+json', async () => {
    const { id } = await upload(makePng({ width: 300, height: 300, seed: 901 }));
    const failed = await rendersCount(server, 'failed');
    const again = await rendersCount(server, 'refused_again');

    const firstId = randomUUID();
    const first = await preview(id, DOCTOR, firstId);
    expect(first.status).toBe(422);
    const firstProblem = await problemOf(first);
    expect(firstProblem.body).toMatchObject({ code: 'not_renderable' });
    expect(await rendersCount(server, 'failed')).toBe(failed + 1);
    expect(await eventsOf(server.pool, firstId)).toMatchObject([
      { action: 'xray.preview', outcome: 'failed', xray_id: id, details: { error: 'not_renderable' } },
    ]);

    // Remembered now. Someone else's paramedic: the same 404 as for an unknown id, audited as a denial.
    const hiddenId = randomUUID();
    const hidden = await preview(id, OTHER_PARAMEDIC, hiddenId);
    const unknown = await preview(randomUUID(), OTHER_PARAMEDIC, randomUUID());
    expect(hidden.status).toBe(404);
    expect(await problemOf(hidden)).toEqual(await problemOf(unknown));
    expect(await eventsOf(server.pool, hiddenId)).toMatchObject([
      { action: 'access.denied', outcome: 'denied', xray_id: id, details: { attempted: 'xray.preview' } },
    ]);
    // No role: 403, as before any render.
    const nobodyId = randomUUID();
    const nobody = await preview(id, 'nobody; ', nobodyId);
    expect(nobody.status).toBe(403);
    expect(await eventsOf(server.pool, nobodyId)).toHaveLength(1);
    // Unauthenticated: 401.
    expect((await fetch(`${server.url}/xrays/${id}/preview?size=64`)).status).toBe(401);
    // None of these reached the render: nothing refused again yet.
    expect(await rendersCount(server, 'refused_again')).toBe(again);

    // The owner and the doctor again: the same answer as the first time, one audit event each.
    for (const actor of [PARAMEDIC, DOCTOR]) {
      const requestId = randomUUID();
      const res = await preview(id, actor, requestId);
      expect(res.status).toBe(422);
      expect(await problemOf(res)).toEqual(firstProblem);
      const events = await eventsOf(server.pool, requestId);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        action: 'xray.preview',
        outcome: 'failed',
        xray_id: id,
        patient_id: 'P-1001',
        details: { error: 'not_renderable' },
      });
    }
    expect(await rendersCount(server, 'refused_again')).toBe(again + 2);
    expect(await rendersCount(server, 'failed')).toBe(failed + 1);
    expect(await server.store.list(rendersPrefixOf(id))).toEqual([]);
  });

  it('DICOMweb rendered and thumbnails (instance, series, study): a refusal remembered for one X-ray is not another’s answer, and hidden instances stay 404', async () => {
    // One study, two series: the first (series 1) too large to render, owned by para-1; the second
    // renderable, owned by para-2. The study's thumbnail is its first visible instance.
    const study = `1.2.826.0.1.3680043.10.999.${Date.now()}`;
    const big = await upload(
      makeDicom({
        rows: 300,
        columns: 300,
        seed: 911,
        patientId: 'P-1001',
        studyInstanceUid: study,
        seriesInstanceUid: `${study}.1`,
        sopInstanceUid: `${study}.1.1`,
      }),
      PARAMEDIC,
    );
    const small = await upload(
      makeDicom({
        rows: 100,
        columns: 100,
        seed: 912,
        patientId: 'P-1001',
        studyInstanceUid: study,
        seriesInstanceUid: `${study}.2`,
        sopInstanceUid: `${study}.2.1`,
      }),
      OTHER_PARAMEDIC,
    );
    const bigPath = `/studies/${study}/series/${study}.1/instances/${study}.1.1`;

    const refusals: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const requestId = randomUUID();
      const res = await dicomweb(`${bigPath}/rendered`, DOCTOR, requestId);
      expect(res.status).toBe(422);
      refusals.push(await problemOf(res));
      const events = await eventsOf(server.pool, requestId);
      expect(events, `request ${i}`).toHaveLength(1);
      expect(events[0]).toMatchObject({ action: 'xray.preview', outcome: 'failed', xray_id: big.id });
    }
    expect(refusals[1]).toEqual(refusals[0]);
    expect(refusals[2]).toEqual(refusals[0]);
    // The study's thumbnail for the doctor is the big instance's (refused); for para-2, who sees only
    // their own instance, it is theirs: rendered, not the other's remembered refusal.
    const doctorStudy = await dicomweb(`/studies/${study}/thumbnail`, DOCTOR, randomUUID());
    expect(doctorStudy.status).toBe(422);
    expect((await dicomweb(`/studies/${study}/thumbnail`, DOCTOR, randomUUID())).status).toBe(422);
    const theirs = await dicomweb(`/studies/${study}/thumbnail`, OTHER_PARAMEDIC, randomUUID());
    expect(theirs.status, await theirs.clone().text()).toBe(200);
    expect(theirs.headers.get('content-type')).toBe('image/jpeg');
    // The big instance, series and rendered resource are hidden from para-2: 404 (audited as a denial), never 422.
    for (const p of [`${bigPath}/rendered`, `${bigPath}/thumbnail`, `/studies/${study}/series/${study}.1/thumbnail`]) {
      const requestId = randomUUID();
      const res = await dicomweb(p, OTHER_PARAMEDIC, requestId);
      expect(res.status, p).toBe(404);
      expect((await problemOf(res)).body, p).toMatchObject({ code: 'not_found' });
      expect(await eventsOf(server.pool, requestId), p).toMatchObject([{ action: 'access.denied', outcome: 'denied' }]);
    }
    // And the REST preview of it, for para-2: 404.
    expect((await preview(big.id, OTHER_PARAMEDIC, randomUUID())).status).toBe(404);
    expect(small.id).not.toBe(big.id);
  });

  it('a transient failure (the stored object unreadable, integrity_failed) is not remembered: once repaired, it renders', async () => {
    const victim = await upload(makePng({ width: 120, height: 100, seed: 921 }));
    const row = await xrayRepository.findById(server.pool, victim.id);
    const key = row!.objectKey;
    const saved: Buffer[] = [];
    for await (const c of await server.store.get(key)) saved.push(Buffer.from(c as Uint8Array));
    // Another X-ray's ciphertext at its key: does not open with its data key.
    const other = await upload(makePng({ width: 120, height: 100, seed: 922 }));
    await server.store.copy((await xrayRepository.findById(server.pool, other.id))!.objectKey, key);
    for (let i = 0; i < 2; i++) {
      const res = await preview(victim.id, DOCTOR, randomUUID());
      expect(res.status).toBe(500);
      expect(((await res.json()) as { code: string }).code).toBe('integrity_failed');
    }
    // The object missing (answered 404 "The stored object is missing.").
    await server.store.delete(key);
    const missing = await preview(victim.id, DOCTOR, randomUUID());
    const missingText = await missing.text();
    expect([200, 422], missingText).not.toContain(missing.status);
    // Repaired: rendered at once, not refused from memory.
    await server.store.put(key, Readable.from([Buffer.concat(saved)]));
    const ok = await preview(victim.id, DOCTOR, randomUUID());
    expect(ok.status, await ok.clone().text()).toBe(200);
  });

  it('a deleted X-ray whose render was refused answers 404 (not the remembered 422); a corrected image is a new X-ray and renders', async () => {
    const broken = await upload(makePng({ width: 300, height: 300, seed: 931 }));
    expect((await preview(broken.id, DOCTOR, randomUUID())).status).toBe(422);
    expect((await preview(broken.id, DOCTOR, randomUUID())).status).toBe(422);
    const del = await fetch(`${server.url}/xrays/${broken.id}`, {
      method: 'DELETE',
      headers: { 'X-Test-Actor': ADMIN },
    });
    expect(del.status).toBe(204);
    const after = await preview(broken.id, DOCTOR, randomUUID());
    expect(after.status).toBe(404);
    const fixed = await upload(makePng({ width: 200, height: 200, seed: 931 }));
    const res = await preview(fixed.id, DOCTOR, randomUUID());
    expect(res.status).toBe(200);
  });
});

describe('attack 5217308: a finished tus upload whose X-ray directory cannot be synced', () => {
  let server: TestServer;
  const OWNER = 'para-s9-fsync; paramedic';
  beforeAll(async () => {
    server = await startTestServer('fs', { TUS_CLEANUP_INTERVAL_MS: '3600000' }, { authenticate: headerActor });
  });
  afterAll(async () => {
    disk.failing = undefined;
    await server?.close();
  });

  // skip 0: the first fsync of xrays/<id> fails (the copy that links the upload at the X-ray's
  // key, release); skip 1: the second (ObjectStore.sync, persist).
  it.each([
    ['release (copy)', 0],
    ['persist (sync)', 1],
  ])(
    'EIO on the X-ray’s directory in %s: the final PATCH is a clear 5xx, nothing of the X-ray stays, the retry stores it',
    async (_step, skip) => {
      const plain = Buffer.from(makePng({ width: 200, height: 200, seed: 961 }));
      const { body, metadata } = await sealed(server.url, plain, { patientId: 'P-S9-FSYNC' });
      const created = await fetch(`${server.url}/uploads`, {
        method: 'POST',
        headers: {
          'Tus-Resumable': '1.0.0',
          'X-Test-Actor': OWNER,
          'Upload-Length': String(body.length),
          'Upload-Metadata': encodeMeta(metadata),
        },
      });
      expect(created.status).toBe(201);
      const url = created.headers.get('location') ?? '';
      // The directory naming the X-ray's object (xrays/<id>), not the file.
      disk.failing = new RegExp(`[/\\\\]xrays[/\\\\]${metadata.id}$`);
      disk.failed = 0;
      disk.skip = skip;
      let res: Response;
      let text: string;
      try {
        res = await fetch(url, {
          method: 'PATCH',
          headers: {
            'Tus-Resumable': '1.0.0',
            'X-Test-Actor': OWNER,
            'Content-Type': 'application/offset+octet-stream',
            'Upload-Offset': '0',
          },
          body: new Uint8Array(body),
        });
        text = await res.text();
      } finally {
        disk.failing = undefined;
      }
      expect(disk.failed).toBeGreaterThan(0);
      expect(res.status, text).toBeGreaterThanOrEqual(500);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(text).not.toMatch(/EIO|fsync|\/tmp\//);
      expect((await server.pool.query('SELECT 1 FROM xrays WHERE id = $1', [metadata.id])).rowCount).toBe(0);
      let left: string[] = [];
      for (let i = 0; i < 20; i++) {
        left = (await storedObjects(server)).filter((k) => k.includes(metadata.id));
        if (left.length === 0) break;
        await sleep(100);
      }
      expect(left).toEqual([]);
      expect(
        (await run(checkCommand, [], server.env)).stdout
          .split('\n')
          .filter((l) => l.includes('PROBLEM') && l.includes(metadata.id)),
      ).toEqual([]);
      const again = await startTus({
        endpoint: `${server.url}/uploads`,
        file: body,
        metadata,
        headers: { 'X-Test-Actor': OWNER },
      }).done;
      expect(again.xrayId).toBe(metadata.id);
      const dl = await fetch(`${server.url}/xrays/${metadata.id}/download`, { headers: { 'X-Test-Actor': OWNER } });
      expect(dl.status).toBe(200);
      expect(sha256Hex(Buffer.from(await dl.arrayBuffer()))).toBe(sha256Hex(plain));
    },
  );
});

describe.each<StorageKind>(['fs', 's3'])('attack 7e2ea0f: renders/ sweep on %s storage', (kind) => {
  let server: TestServer;
  const check = (...args: string[]) => run(checkCommand, args, server.env);
  const recover = (...args: string[]) => run(recoverCommand, args, server.env);
  const put = (key: string, bytes = Buffer.from('XRR1 stray')) => server.store.put(key, Readable.from([bytes]));

  beforeAll(async () => {
    server = await startTestServer(
      kind,
      { AUDIT_CHECKPOINT_INTERVAL_MS: String(3600_000) },
      { authenticate: headerActor },
    );
  });
  afterAll(async () => server?.close());

  it('an empty store: check says 0 render sets, recover removes nothing, both exit 0', async () => {
    expect(await server.store.list('renders/')).toEqual([]);
    const c = await check('--all');
    expect(c.stdout).toMatch(/render sets: 0 \(0 objects\)/);
    expect(c.code, c.stdout + c.stderr).toBe(0);
    const r = await recover();
    expect(r.stdout).toContain('0 render sets removed');
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('odd keys under renders/: a live X-ray’s renders (any depth, an object at renders/<id>) are kept; orphans of any shape are removed; nothing outside renders/ is touched', async () => {
    const png = Buffer.from(makePng({ seed: 941 }));
    const id = randomUUID();
    const res = await postXray(server.url, validMetadata({ id }), blobOf(png), { 'X-Test-Actor': PARAMEDIC });
    expect(res.status).toBe(201);
    const shown = await fetch(`${server.url}/xrays/${id}/preview?size=64`, { headers: { 'X-Test-Actor': DOCTOR } });
    expect(shown.status).toBe(200);
    const [real] = await server.store.list(rendersPrefixOf(id));
    expect(real).toBeDefined();

    const orphan = randomUUID();
    const live = [real!, `renders/${id}/nested/deeper/entry`];
    const orphans = [
      `renders/${orphan}/a`,
      `renders/${orphan}/nested/deeper/b`,
      `renders/${id.toUpperCase()}/a`, // never written by the server (ids are lower case)
      'renders/not-a-uuid/a',
      `renders/${orphan.slice(0, 8)}`,
    ];
    // Look-alikes outside renders/: never touched.
    const outside = [`renders-old/${orphan}/a`, `rendersx/${orphan}`, `xrays-renders/${orphan}/a`];
    for (const k of [...live.slice(1), ...orphans, ...outside]) await put(k);
    // On S3 an object may sit exactly at renders/<id> next to renders/<id>/… (not on disk).
    if (kind === 's3') {
      await put(`renders/${id}`);
      live.push(`renders/${id}`);
    }
    const everythingBefore = (await server.store.list('')).filter((k) => !k.startsWith('renders/'));

    const c = await check();
    expect(c.code).toBe(1);
    expect(c.stdout).not.toContain(`X-ray ${id} has no row`);
    expect(c.stdout).toContain(`X-ray ${orphan} has no row but 2 cached rendered images`);
    expect(c.stdout).toContain(`X-ray not-a-uuid has no row`);

    const r = await recover();
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain(`renders removed: X-ray ${orphan} (2 cached rendered images; it has no row)`);
    expect(r.stdout).not.toContain(`renders removed: X-ray ${id} `);
    expect((await server.store.list('renders/')).sort()).toEqual([...live].sort());
    expect((await server.store.list('')).filter((k) => !k.startsWith('renders/'))).toEqual(everythingBefore);
    for (const k of outside) expect(await server.store.stat(k), k).not.toBeNull();
    const clean = await check();
    expect(clean.stdout).not.toContain('render_without_xray');
    // The live X-ray still previews from its cache.
    const again = await fetch(`${server.url}/xrays/${id}/preview?size=64`, { headers: { 'X-Test-Actor': DOCTOR } });
    expect(again.status).toBe(200);
  });

  it('a render of an X-ray stored and previewed while recover runs is kept', async () => {
    const stray = randomUUID();
    for (let i = 0; i < 20; i++) await put(`renders/${stray}/${i}`);
    const ids: string[] = [];
    const racing = (async () => {
      for (let i = 0; i < 4; i++) {
        const id = randomUUID();
        const res = await postXray(server.url, validMetadata({ id }), blobOf(makePng({ seed: 950 + i })), {
          'X-Test-Actor': PARAMEDIC,
        });
        expect(res.status).toBe(201);
        const shown = await fetch(`${server.url}/xrays/${id}/preview?size=64`, {
          headers: { 'X-Test-Actor': DOCTOR },
        });
        expect(shown.status).toBe(200);
        ids.push(id);
      }
    })();
    const [r] = await Promise.all([recover(), racing]);
    expect(r.stdout).toContain(`renders removed: X-ray ${stray}`);
    for (const id of ids) expect(await server.store.list(rendersPrefixOf(id)), id).toHaveLength(1);
  });

  // On disk only: S3 keys are written through the store, which refuses such names.
  if (kind === 'fs')
    it('on disk, a file under an orphan’s renders/ whose name is not a store key: recover names it for the operator, removes the rest, and settles once it is gone', async () => {
      const orphan = randomUUID();
      const dir = path.join(server.config.storage.kind === 'fs' ? server.config.storage.dir : '', 'renders', orphan);
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'copy of entry'), 'stray');
      // Beside it, a render of the same orphan under a name this server writes.
      await writeFile(path.join(dir, 'ours'), 'render');
      const first = await recover();
      // Ours is removed; the stray file is named, with what to do, and never touched.
      expect(await readdir(dir)).toEqual(['copy of entry']);
      expect(first.code).toBe(1);
      expect(`${first.stdout}${first.stderr}`).toContain(
        `renders/${orphan}/copy of entry is not a name this server writes, so it is not removed through the store: remove that file by hand`,
      );
      // Once the operator has removed it, recover settles (exit 0).
      await rm(path.join(dir, 'copy of entry'));
      const second = await recover();
      expect(second.code, `${second.stdout}\n${second.stderr}`).toBe(0);
    });
});
