import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dcmtk, makeDicom, makeJpeg } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobOf, headerActor, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { startOrthanc, type Orthanc } from './orthanc.ts';

const MEDIC = 'medic-tags; paramedic';
const DOCTOR = 'doctor-tags; doctor';

/** The fields of a resource's `dicom` block, each with the DICOM keyword Orthanc reports it under. */
const FIELDS = {
  patientId: 'PatientID',
  issuerOfPatientId: 'IssuerOfPatientID',
  patientName: 'PatientName',
  patientBirthDate: 'PatientBirthDate',
  patientSex: 'PatientSex',
  studyDate: 'StudyDate',
  studyInstanceUid: 'StudyInstanceUID',
  seriesInstanceUid: 'SeriesInstanceUID',
  sopInstanceUid: 'SOPInstanceUID',
  modality: 'Modality',
  bodyPartExamined: 'BodyPartExamined',
  viewPosition: 'ViewPosition',
  rows: 'Rows',
  columns: 'Columns',
  bitsAllocated: 'BitsAllocated',
  transferSyntaxUid: 'TransferSyntaxUID',
} as const;
type Field = keyof typeof FIELDS;
const NUMERIC: ReadonlySet<Field> = new Set(['rows', 'columns', 'bitsAllocated']);
/** Fields whose VR (LO, SH, CS, DA, PN) makes leading spaces non-significant. */
const LEADING_SPACE_INSIGNIFICANT: ReadonlySet<Field> = new Set([
  'patientId',
  'issuerOfPatientId',
  'patientName',
  'patientSex',
  'patientBirthDate',
  'studyDate',
  'modality',
  'bodyPartExamined',
  'viewPosition',
]);

type Tags = Partial<Record<Field, string | number>>;

interface Sample {
  name: string;
  bytes: Buffer;
}

/** Replaces the first occurrence of `from` in the file with `to` (same length: offsets stay valid). */
function patched(bytes: Buffer, from: string, to: string): Buffer {
  const a = Buffer.from(from, 'latin1');
  const b = Buffer.from(to, 'latin1');
  if (a.length !== b.length) throw new Error('patch must keep the length');
  const at = bytes.indexOf(a);
  if (at < 0) throw new Error(`${JSON.stringify(from)} not in the file`);
  const out = Buffer.from(bytes);
  b.copy(out, at);
  return out;
}

/**
 * Orthanc's reading of an instance, as the fields of our `dicom` block. The normalizations, and
 * why each is legitimate:
 * - a numeric attribute (US) is a string in simplified-tags ("64") and a number in our API:
 *   compared as numbers;
 * - an attribute absent from the file, or present with an empty value, is omitted by us (the
 *   schema says "tags absent from the file are omitted") while Orthanc lists an empty value:
 *   both count as absent;
 * - leading spaces are not significant in LO, SH, CS and DA values (PS3.5 table 6.2-1) nor in
 *   PN (CP-726: "DICOM allows leading and trailing spaces and considers them insignificant"),
 *   and we drop them (" P-1" is patient "P-1"); Orthanc reports the bytes as written, so for
 *   the fields of those VRs they are stripped on its side too (not for UI, where no space is
 *   allowed at all).
 * Nothing else is changed: case, inner spaces, `^` and `=` in names, and non-ASCII characters
 * must be identical, and so must trailing padding (both drop it).
 */
function orthancTags(simplified: Record<string, unknown>, header: Record<string, unknown>): Tags {
  const tags: Tags = {};
  for (const [field, keyword] of Object.entries(FIELDS) as [Field, string][]) {
    const raw = field === 'transferSyntaxUid' ? header[keyword] : simplified[keyword];
    if (typeof raw !== 'string') continue;
    // (Trailing space and NUL padding are left as Orthanc reports them: both sides drop it.)
    const value = LEADING_SPACE_INSIGNIFICANT.has(field) ? raw.replace(/^ +/u, '') : raw;
    if (value === '') continue;
    tags[field] = NUMERIC.has(field) ? Number(value) : value;
  }
  return tags;
}

/**
 * The tags the API reports agree with Orthanc's (issue 19, "One DICOM library"): a varied set of
 * files, made by the testkit and by dcmtk, is stored in our server (POST /xrays) and in a
 * private Orthanc; each field of the resource's `dicom` block equals what Orthanc's
 * `/instances/{id}/simplified-tags` (and `/header` for the transfer syntax) says of the same file.
 */
describe('DICOM tags reported by the API agree with Orthanc', () => {
  let server: TestServer;
  let orthanc: Orthanc;
  let dir: string;
  const samples: Sample[] = [];

  const uid = (n: number) => `1.2.826.0.1.3680043.10.19.70.${n}`;

  async function dcmtkMade(
    name: string,
    source: Buffer,
    tool: string,
    args: (input: string, output: string) => string[],
  ): Promise<void> {
    const input = path.join(dir, `${name}.in.dcm`);
    const output = path.join(dir, `${name}.dcm`);
    await writeFile(input, source);
    await dcmtk(tool, args(input, output));
    samples.push({ name, bytes: await readFile(output) });
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dicom-tags-orthanc-'));
    [server, orthanc] = await Promise.all([startTestServer('fs', {}, { authenticate: headerActor }), startOrthanc()]);

    const base = { rows: 32, columns: 32 };
    samples.push({
      name: 'plain',
      bytes: makeDicom({ ...base, seed: 1, patientId: 'P-1970', studyInstanceUid: uid(1), seriesInstanceUid: uid(2) }),
    });
    samples.push({
      name: 'full identity',
      bytes: makeDicom({
        ...base,
        seed: 2,
        patientId: 'P-1971',
        issuerOfPatientId: 'CLINIC-B',
        patientName: 'Keller^Maria^Anna^Dr.^PhD',
        patientBirthDate: '19800214',
        patientSex: 'F',
        bodyPart: 'HAND',
        view: 'AP',
        studyDate: '20261127',
      }),
    });
    samples.push({
      name: 'utf-8 name (ISO_IR 192)',
      bytes: makeDicom({
        ...base,
        seed: 3,
        patientId: 'P-1972',
        patientName: 'Müller^Jörg=山田^太郎',
        patientSex: 'M',
      }),
    });
    // Odd-length values: the testkit pads strings with a space and UIDs with NUL (PS3.5 6.2).
    samples.push({
      name: 'space and NUL padded',
      bytes: makeDicom({
        ...base,
        seed: 4,
        patientId: 'P-19731',
        patientName: 'Doe^Jon',
        patientSex: 'O',
        studyInstanceUid: uid(31),
        seriesInstanceUid: uid(333),
        sopInstanceUid: uid(35555),
      }),
    });
    // A writer that pads a string value with NUL instead of a space (seen in the field).
    samples.push({
      name: 'NUL padded string',
      bytes: patched(makeDicom({ ...base, seed: 5, patientId: 'P-19741' }), 'P-19741 ', 'P-19741\u0000'),
    });
    // Leading spaces are not significant in SH/LO (PS3.5 6.2), and an empty value is no value.
    samples.push({
      name: 'leading space, empty sex',
      bytes: patched(makeDicom({ ...base, seed: 10, patientId: 'XP-1978', patientSex: '' }), 'XP-1978', ' P-1978'),
    });
    samples.push({
      name: 'PN leading space',
      bytes: patched(
        makeDicom({ ...base, seed: 12, patientId: 'P-1980', patientName: 'XDoe^Jo' }),
        'XDoe^Jo',
        ' Doe^Jo',
      ),
    });
    // A Latin-1 (ISO_IR 100) name: byte 0xFC is "ü" there (and invalid UTF-8).
    const latin1 = path.join(dir, 'latin1.dcm');
    await writeFile(
      latin1,
      patched(
        makeDicom({ ...base, seed: 11, patientId: 'P-1979', patientName: 'MXller^Hans' }),
        'MXller',
        'M\u00fcller',
      ),
    );
    await dcmtk('dcmodify', ['-nb', '-i', '(0008,0005)=ISO_IR 100', latin1]);
    samples.push({ name: 'Latin-1 name (ISO_IR 100)', bytes: await readFile(latin1) });
    samples.push({
      name: 'private data before the pixels',
      bytes: makeDicom({ ...base, seed: 6, patientId: 'P-1975', privateDataBytes: 4096 }),
    });
    samples.push({
      name: 'larger image',
      bytes: makeDicom({ rows: 300, columns: 257, seed: 7, patientId: 'P-1976', patientName: 'Smith^Al' }),
    });

    const source = makeDicom({
      ...base,
      seed: 8,
      patientId: 'P-1977',
      patientName: 'Rossi^Paola',
      patientBirthDate: '19550101',
      patientSex: 'F',
    });
    await dcmtkMade('JPEG lossless (dcmcjpeg)', source, 'dcmcjpeg', (i, o) => [i, o]);
    await dcmtkMade('JPEG-LS (dcmcjpls)', source, 'dcmcjpls', (i, o) => [i, o]);
    await dcmtkMade('RLE (dcmcrle)', source, 'dcmcrle', (i, o) => [i, o]);
    await dcmtkMade('implicit VR (dcmconv +ti)', source, 'dcmconv', (i, o) => ['+ti', i, o]);
    await dcmtkMade('explicit big endian (dcmconv +tb)', source, 'dcmconv', (i, o) => ['+tb', i, o]);
    const photo = path.join(dir, 'photo.jpg');
    await writeFile(photo, makeJpeg({ width: 96, height: 64, seed: 9 }));
    const fromJpeg = path.join(dir, 'img2dcm.dcm');
    await dcmtk('img2dcm', [photo, fromJpeg]);
    samples.push({ name: 'img2dcm from a JPEG', bytes: await readFile(fromJpeg) });
  }, 240_000);

  afterAll(async () => {
    await Promise.all([server?.close(), orthanc?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('every field of the dicom block equals Orthanc’s reading of the same file', async () => {
    const compared: Record<string, { ours: Tags; orthanc: Tags }> = {};
    for (const { name, bytes } of samples) {
      const id = randomUUID();
      const posted = await postXray(server.url, validMetadata({ id, patientId: 'P-1970' }), blobOf(bytes), {
        'X-Test-Actor': MEDIC,
      });
      expect(posted.status, `${name}: ${await posted.clone().text()}`).toBe(201);
      const got = await fetch(`${server.url}/xrays/${id}`, { headers: { 'X-Test-Actor': DOCTOR } });
      expect(got.status, name).toBe(200);
      const ours = ((await got.json()) as { dicom: Tags | null }).dicom;
      expect(ours, name).not.toBeNull();

      // Several variants share one source's UIDs: each is read alone, then removed from Orthanc
      // (which would otherwise answer "AlreadyStored" and keep the first file).
      const stored = await orthanc.upload(bytes);
      expect(stored.Status, name).toBe('Success');
      const [simplified, header] = await Promise.all([
        orthanc.json<Record<string, unknown>>('GET', `/instances/${stored.ID}/simplified-tags`),
        orthanc.json<Record<string, unknown>>('GET', `/instances/${stored.ID}/header?simplify`),
      ]);
      compared[name] = { ours: ours ?? {}, orthanc: orthancTags(simplified, header) };
      await orthanc.json('DELETE', `/instances/${stored.ID}`);
    }
    // All files at once, so a failure shows every disagreement, not just the first.
    for (const [name, { ours, orthanc: theirs }] of Object.entries(compared)) {
      expect.soft(ours, name).toStrictEqual(theirs);
    }
    // Anchors: the agreement is on the right values, not on the same misreading.
    expect(compared['full identity']?.ours).toMatchObject({
      issuerOfPatientId: 'CLINIC-B',
      patientName: 'Keller^Maria^Anna^Dr.^PhD',
      patientBirthDate: '19800214',
      patientSex: 'F',
      bodyPartExamined: 'HAND',
      viewPosition: 'AP',
      studyDate: '20261127',
    });
    expect(compared['utf-8 name (ISO_IR 192)']?.ours.patientName).toBe('Müller^Jörg=山田^太郎');
    expect(compared['Latin-1 name (ISO_IR 100)']?.ours.patientName).toBe('Müller^Hans');
    expect(compared['space and NUL padded']?.ours).toMatchObject({
      patientId: 'P-19731',
      patientName: 'Doe^Jon',
      sopInstanceUid: uid(35555),
    });
    expect(compared['NUL padded string']?.ours.patientId).toBe('P-19741');
    expect(compared['PN leading space']?.ours.patientName).toBe('Doe^Jo');
    expect(compared['leading space, empty sex']?.ours).toMatchObject({ patientId: 'P-1978' });
    expect(compared['leading space, empty sex']?.ours.patientSex).toBeUndefined();
    expect(compared['larger image']?.ours).toMatchObject({ rows: 300, columns: 257 });
    expect(compared['img2dcm from a JPEG']?.ours).toMatchObject({ rows: 64, columns: 96, bitsAllocated: 8 });
    // The comparison is not vacuous: every field was read from some file by both sides.
    for (const field of Object.keys(FIELDS) as Field[]) {
      expect(
        Object.values(compared).some((c) => c.ours[field] !== undefined),
        field,
      ).toBe(true);
    }
    // The variants cover the transfer syntaxes meant (explicit, JPEG lossless, JPEG-LS, RLE,
    // implicit, JPEG baseline; deflated files are refused at the door, so not here).
    expect(new Set(Object.values(compared).map((c) => c.ours.transferSyntaxUid))).toStrictEqual(
      new Set([
        '1.2.840.10008.1.2.1',
        '1.2.840.10008.1.2.4.70',
        '1.2.840.10008.1.2.4.80',
        '1.2.840.10008.1.2.5',
        '1.2.840.10008.1.2',
        '1.2.840.10008.1.2.2',
        '1.2.840.10008.1.2.4.50',
      ]),
    );
  });
});
