import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Roster } from '@xray/shared';
import { dcmtk, findPlaintextRun, makeDicom } from '@xray/testkit';
import { createCaptureService } from '../src/capture/capture.service.ts';
import { captureReceivedDicom } from '../src/capture/dicom-intake.ts';
import type { EdgeDb } from '../src/db/edge.db.ts';
import { freshDb } from '../test/fixtures.ts';
import {
  CSTORE_STATUS,
  dicomReceiverConfigFromEnv,
  startDicomReceiver,
  type DicomReceiver,
  type DicomReceiverEvent,
  type ReceivedInstance,
} from './dicom-receiver.ts';

/**
 * The C-STORE receiver with Debian dcmtk's `storescu` as the detector (a real DICOM peer over a
 * real socket), each instance handed to the edge's own capture service (fake-indexeddb): what
 * the Electron main process does, less the IPC hop to the renderer (see e2e/tests/edge-dicom.spec.ts
 * for the whole path to the server).
 */

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The roster the device keeps (as the sync server lists the dev Patient Service's patients). */
const ROSTER: Roster = {
  patients: [
    { id: 'P-1001', name: 'Maria Keller' },
    { id: 'P-1002', name: 'Jonas Weber' },
  ],
  consultations: [],
  generatedAt: '2026-12-06T08:00:00Z',
};
/** A detector's image of a roster patient (its PatientName as DICOM writes names). */
const dicomOf = (seed: number, patientId = 'P-1001', patientName = 'KELLER^MARIA') =>
  makeDicom({ rows: 64, columns: 64, seed, patientId, patientName });

interface StoreRun {
  code: number;
  output: string;
}
/** storescu as a detector runs it: one association for all the files given. */
function storescu(
  port: number,
  files: string[],
  opts: { calling?: string; called?: string; noHalt?: boolean } = {},
): Promise<StoreRun> {
  return new Promise((resolve) => {
    execFile(
      'storescu',
      [
        '-v',
        ...(opts.noHalt ? ['--no-halt'] : []),
        '-aet',
        opts.calling ?? 'DETECTOR_1',
        '-aec',
        opts.called ?? 'XRAY_EDGE',
        '127.0.0.1',
        String(port),
        ...files,
      ],
      { encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && 'code' in err && err.code === 'ENOENT')
          throw new Error('storescu not found: install dcmtk (apt-get install -y --no-install-recommends dcmtk)');
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, output: stdout + stderr });
      },
    );
  });
}

/** A data set whose Rows say more than its pixel data holds: dcmtk reads and sends it, the walker refuses it. */
function brokenDicom(seed: number): Uint8Array {
  const bytes = dicomOf(seed);
  // (0028,0010) US, length 2, in explicit VR little endian.
  const rowsTag = Buffer.from([0x28, 0x00, 0x10, 0x00, 0x55, 0x53, 0x02, 0x00]);
  const at = bytes.indexOf(rowsTag);
  if (at < 0) throw new Error('no Rows element');
  bytes.writeUInt16LE(65, at + 8);
  return bytes;
}

/** The data set part of a Part 10 file: what follows the file meta group. */
function dataSetOf(part10: Uint8Array): Uint8Array {
  const view = Buffer.from(part10.buffer, part10.byteOffset, part10.byteLength);
  const groupLength = view.readUInt32LE(132 + 8);
  return part10.subarray(132 + 12 + groupLength);
}

// Real processes and sockets on a shared 2-core machine: generous, not a performance bound.
describe('DICOM C-STORE receiver (storescu as the detector)', { timeout: 60_000 }, () => {
  let dir: string;
  let db: EdgeDb;
  let receiver: DicomReceiver | undefined;
  let events: DicomReceiverEvent[];
  let handed: ReceivedInstance[];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xray-dicom-'));
    await dcmtk('storescu', ['--version']);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
  });

  /** A receiver whose instances go into a fresh encrypted capture queue. */
  async function start(opts: { allowedCallers?: string[]; fail?: boolean; maxInstanceBytes?: number } = {}) {
    db = await freshDb();
    const service = createCaptureService({ db });
    events = [];
    handed = [];
    receiver = await startDicomReceiver({
      aeTitle: 'XRAY_EDGE',
      port: 0,
      host: '127.0.0.1',
      ...(opts.allowedCallers ? { allowedCallers: opts.allowedCallers } : {}),
      ...(opts.maxInstanceBytes ? { maxInstanceBytes: opts.maxInstanceBytes } : {}),
      onEvent: (e) => events.push(e),
      onInstance: async (instance) => {
        handed.push(instance);
        if (opts.fail) throw new Error('the capture queue is not open');
        await captureReceivedDicom(service.capture, instance, { deviceId: 'edge-test', roster: () => ROSTER });
      },
    });
    return receiver;
  }

  async function files(list: { name: string; bytes: Uint8Array }[]): Promise<string[]> {
    return Promise.all(
      list.map(async ({ name, bytes }) => {
        const p = path.join(dir, name);
        await writeFile(p, bytes);
        return p;
      }),
    );
  }

  it('three instances in one association are each queued encrypted, with the patient from the data set, before storescu is told success', async () => {
    const r = await start();
    const originals = [1, 2, 3].map((seed) =>
      makeDicom({ rows: 128, columns: 128, seed, patientId: 'P-1001', patientName: 'KELLER^MARIA', view: 'AP' }),
    );
    const run = await storescu(r.port, await files(originals.map((bytes, i) => ({ name: `IMG000${i + 1}`, bytes }))));
    expect(run.code, run.output).toBe(0);
    expect(run.output.match(/Requesting Association/g)).toHaveLength(1);
    expect(run.output.match(/Received Store Response \(Success\)/g)).toHaveLength(3);
    expect(events.filter((e) => e.type === 'association-accepted')).toHaveLength(1);

    // Queued (on disk, encrypted) by the time storescu heard "Success".
    const records = await db.captures.orderBy('createdAt').toArray();
    expect(records).toHaveLength(3);
    expect(records.map((c) => c.status)).toEqual(['queued', 'queued', 'queued']);
    for (const [i, record] of records.entries()) {
      const instance = handed[i];
      const original = originals[i];
      if (!instance || !original) throw new Error('missing instance');
      // The detector's data set, byte for byte, behind the receiver's own file meta group.
      expect(Buffer.compare(dataSetOf(instance.bytes), dataSetOf(original))).toBe(0);
      expect(record.sha256).toBe(sha256(instance.bytes));
      expect(record.plaintextSize).toBe(instance.bytes.length);
      // Only ciphertext in IndexedDB: no run of the image's bytes in it.
      const blob = await db.blobs.get(record.id);
      const ciphertext = new Uint8Array(await (blob?.ciphertext ?? new Blob()).arrayBuffer());
      expect(ciphertext.length).toBeGreaterThan(instance.bytes.length);
      expect(findPlaintextRun(ciphertext, instance.bytes.subarray(1024, 9216))).toBe(-1);
      const meta = await createCaptureService({ db }).readMetadata(record.id);
      expect(meta.xray).toMatchObject({ patientId: 'P-1001', bodyPart: 'CHEST', view: 'AP', deviceId: 'edge-test' });
      expect(meta.dicom?.sopInstanceUid).toBe(instance.sopInstanceUid);
    }
  });

  it('the Part 10 file it makes is one dcmtk reads: our meta group, the detector named as source', async () => {
    const r = await start();
    const run = await storescu(r.port, await files([{ name: 'ONE', bytes: dicomOf(7) }]));
    expect(run.code, run.output).toBe(0);
    const out = path.join(dir, 'received.dcm');
    await writeFile(out, handed[0]?.bytes ?? new Uint8Array());
    const { stdout } = await dcmtk('dcmdump', ['+L', out]);
    expect(stdout).toMatch(/\(0002,0010\) UI =LittleEndianExplicit/);
    expect(stdout).toMatch(/\(0002,0016\) AE \[DETECTOR_1\]/);
    expect(stdout).toMatch(/\(0002,0003\) UI \[[\d.]+\]/);
    await expect(dcmtk('dcmftest', [out])).resolves.toMatchObject({ stdout: expect.stringContaining('yes:') });
  });

  it('refuses an association that calls another AE title: nothing is received', async () => {
    const r = await start();
    const run = await storescu(r.port, await files([{ name: 'W1', bytes: dicomOf(8) }]), {
      called: 'PACS',
    });
    expect(run.code).not.toBe(0);
    expect(run.output).toContain('Association Rejected');
    expect(run.output).toContain('Called AE Title Not Recognized');
    expect(handed).toEqual([]);
    expect(await db.captures.count()).toBe(0);
    expect(events).toEqual([
      expect.objectContaining({
        type: 'association-rejected',
        calledAeTitle: 'PACS',
        reason: 'called AE title not ours',
      }),
    ]);
  });

  it('with an allow-list, refuses a caller not on it and accepts one on it', async () => {
    const r = await start({ allowedCallers: ['DETECTOR_1'] });
    const [file] = await files([{ name: 'A1', bytes: dicomOf(9) }]);
    const stranger = await storescu(r.port, [file ?? ''], { calling: 'LAPTOP' });
    expect(stranger.code).not.toBe(0);
    expect(stranger.output).toContain('Calling AE Title Not Recognized');
    expect(handed).toEqual([]);
    const known = await storescu(r.port, [file ?? '']);
    expect(known.code, known.output).toBe(0);
    expect(await db.captures.count()).toBe(1);
  });

  it('answers a broken data set with 0xC000 and queues nothing of it; the good one after it in the same association is queued', async () => {
    const r = await start();
    const good = dicomOf(11, 'P-1002', 'WEBER^JONAS');
    const run = await storescu(
      r.port,
      await files([
        { name: 'BROKEN', bytes: brokenDicom(10) },
        { name: 'GOOD', bytes: good },
      ]),
      { noHalt: true },
    );
    // dcmtk names 0xC000 "CannotUnderstand" (PS3.4 Annex B.2.3).
    expect(run.output).toContain('Received Store Response (Error: CannotUnderstand)');
    expect(run.output.match(/Received Store Response \(Success\)/g)).toHaveLength(1);
    expect(handed).toHaveLength(1);
    const records = await db.captures.toArray();
    expect(records).toHaveLength(1);
    expect(records[0]?.sha256).toBe(sha256(handed[0]?.bytes ?? new Uint8Array()));
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'refused',
        status: CSTORE_STATUS.cannotUnderstand,
        reason: expect.stringContaining('image data is the wrong size'),
      }),
    );
  });

  it('the wrong-patient rules: a patient not on the roster, another name, or none is stored encrypted but held (nothing sent) until decided', async () => {
    const r = await start();
    const originals = [
      dicomOf(21, 'P-1O01', 'KELLER^MARIA'), // a typo'd id: not on the roster
      dicomOf(22, 'P-1001', 'NOVAK^PETER'), // the id of one patient, the name of another
      dicomOf(23, '', ''), // no patient at all
      dicomOf(24), // right
    ];
    const run = await storescu(r.port, await files(originals.map((bytes, i) => ({ name: `H${i}`, bytes }))));
    expect(run.code, run.output).toBe(0);
    const records = await db.captures.orderBy('createdAt').toArray();
    expect(records.map((c) => c.status)).toEqual(['needs-attention', 'needs-attention', 'needs-attention', 'queued']);
    expect(records.map((c) => c.lastError?.message)).toEqual([
      "From detector DETECTOR_1: P-1O01 is not on this device's patient list. Check the patient before it is sent.",
      'From detector DETECTOR_1: The file names NOVAK, PETER, the roster Maria Keller. Check the patient before it is sent.',
      'From detector DETECTOR_1: The image names no patient: choose the patient before it is sent.',
      undefined,
    ]);
    // Deciding (here: the right patient) queues it like any corrected capture.
    const service = createCaptureService({ db });
    await service.updateMetadata(records[0]?.id ?? '', { patientId: 'P-1001' });
    expect((await db.captures.get(records[0]?.id ?? ''))?.status).toBe('queued');
  });

  it('answers 0xA700 for an instance over the size limit, keeping none of it', async () => {
    const r = await start({ maxInstanceBytes: 4096 });
    const run = await storescu(r.port, await files([{ name: 'BIG', bytes: dicomOf(13) }]));
    expect(run.output).toContain('Received Store Response (Refused: OutOfResources)');
    expect(handed).toEqual([]);
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'refused',
        status: CSTORE_STATUS.outOfResources,
        reason: expect.stringContaining('over this receiver'),
      }),
    );
  });

  it('answers 0xA700 when the queue does not take the instance (the detector keeps it and may retry)', async () => {
    const r = await start({ fail: true });
    const run = await storescu(r.port, await files([{ name: 'F1', bytes: dicomOf(12) }]));
    expect(run.output).toContain('Received Store Response (Refused: OutOfResources)');
    expect(await db.captures.count()).toBe(0);
  });
});

describe('DICOM receiver settings (XRAY_DICOM_*)', () => {
  it('is off without a port; reads AE title, host, allowed callers and size', () => {
    expect(dicomReceiverConfigFromEnv({})).toEqual({ ok: true, config: null });
    expect(
      dicomReceiverConfigFromEnv({
        XRAY_DICOM_PORT: '11112',
        XRAY_DICOM_AE_TITLE: 'AMB_17',
        XRAY_DICOM_HOST: '192.0.2.10',
        XRAY_DICOM_ALLOWED_CALLERS: 'DET_A, DET_B',
        XRAY_DICOM_MAX_MB: '200',
      }),
    ).toEqual({
      ok: true,
      config: {
        aeTitle: 'AMB_17',
        port: 11112,
        host: '192.0.2.10',
        allowedCallers: ['DET_A', 'DET_B'],
        maxInstanceBytes: 200 * 1024 * 1024,
      },
    });
  });

  it('names a bad value', () => {
    expect(dicomReceiverConfigFromEnv({ XRAY_DICOM_PORT: 'x' })).toMatchObject({
      ok: false,
      message: expect.stringContaining('XRAY_DICOM_PORT'),
    });
    expect(dicomReceiverConfigFromEnv({ XRAY_DICOM_PORT: '104', XRAY_DICOM_AE_TITLE: 'A\\B' })).toMatchObject({
      ok: false,
      message: expect.stringContaining('XRAY_DICOM_AE_TITLE'),
    });
    expect(
      dicomReceiverConfigFromEnv({ XRAY_DICOM_PORT: '104', XRAY_DICOM_ALLOWED_CALLERS: 'OK,WAY_TOO_LONG_FOR_AN_AE' }),
    ).toMatchObject({ ok: false, message: expect.stringContaining('WAY_TOO_LONG_FOR_AN_AE') });
  });
});
