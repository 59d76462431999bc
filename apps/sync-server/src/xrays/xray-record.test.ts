import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createConfigKeyService } from '../keys/key.service.ts';
import { classifyKey, xrayIdOf } from './xray-record.ts';
import { compareInventory, type Inventory } from './xray-recovery.ts';

const uploadPrivateKeyPem = generateKeyPairSync('rsa', { modulusLength: 3072 })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();

const id = (n: number) => `${String(n).repeat(8)}-1111-4111-8111-111111111111`;
const key = (n: number) => `xrays/${id(n)}/obj-${n}`;

describe('recovery records: sealed and bound', () => {
  it('opens for its own X-ray, object and KEK only', async () => {
    const keys = await createConfigKeyService({
      keks: [
        { id: 'k1', key: randomBytes(32).toString('base64') },
        { id: 'k2', key: randomBytes(32).toString('base64') },
      ],
      currentKekId: 'k1',
      uploadPrivateKeyPem,
    });
    const a = { xrayId: id(1), objectKey: key(1) };
    await expect(keys.sealRecord(new Uint8Array([1]), a)).rejects.toThrow(/has not been confirmed/);
    keys.confirmKek('k1', true);
    const plain = Buffer.from('{"row":"patient P-1"}');
    const { sealed, kekId } = await keys.sealRecord(plain, a);
    expect(kekId).toBe('k1');
    expect(Buffer.from(sealed).includes(Buffer.from('P-1'))).toBe(false);
    expect(Buffer.from(await keys.openRecord(sealed, 'k1', a)).equals(plain)).toBe(true);
    for (const [kek, binding] of [
      ['k1', { ...a, objectKey: key(2) }],
      ['k1', { ...a, xrayId: id(2) }],
      ['k2', a],
    ] as const) {
      await expect(keys.openRecord(sealed, kek, binding)).rejects.toMatchObject({ code: 'integrity_failed' });
    }
  });

  it('keys: object, record and tombstone of one object; the X-ray id from the key', () => {
    expect(classifyKey(key(1))).toEqual({ kind: 'object', objectKey: key(1) });
    expect(classifyKey(`${key(1)}.record`)).toEqual({ kind: 'record', objectKey: key(1) });
    expect(classifyKey(`${key(1)}.deleted`)).toEqual({ kind: 'tombstone', objectKey: key(1) });
    expect(xrayIdOf(key(3))).toBe(id(3));
    expect(xrayIdOf('xrays/not-an-id/x')).toBeNull();
  });
});

describe('compareInventory: rows and objects both ways', () => {
  const inventory = (over: Partial<Inventory>): Inventory => ({
    objects: new Set(),
    records: new Set(),
    tombstones: new Set(),
    rows: new Map(),
    rowIds: new Map(),
    unfinished: new Set(),
    renders: new Map(),
    ...over,
  });
  const row = (n: number) => [key(n), { id: id(n), kekId: 'k1' }] as const;

  it('names each kind once, and nothing for a consistent X-ray or an unfinished upload', () => {
    const problems = compareInventory(
      inventory({
        // 1 consistent; 2 row without object; 3 row without record; 4 deleted but its row is back;
        // 5 object without row (recoverable); 6 object with neither; 7 erased object still there;
        // 8 an unfinished tus upload's object.
        rows: new Map([row(1), row(2), row(3), row(4)]),
        objects: new Set([key(1), key(3), key(4), key(5), key(6), key(7), key(8)]),
        records: new Set([key(1), key(2), key(4), key(5), key(7)]),
        tombstones: new Set([key(4), key(7)]),
        unfinished: new Set([key(8)]),
      }),
    );
    expect(problems.map((p) => [p.kind, p.subject])).toEqual([
      ['row_without_object', id(2)],
      ['row_without_record', id(3)],
      ['deleted_xray_present', id(4)],
      ['object_without_row', key(5)],
      ['object_without_row', key(6)],
      ['erased_object_present', key(7)],
    ]);
    expect(problems.find((p) => p.subject === key(5))?.message).toMatch(/run xray-admin recover/);
    expect(problems.find((p) => p.subject === key(6))?.message).toMatch(/cannot be recovered/);
  });

  it('cached renders: those of an X-ray with a row are fine, those of one with none are named once', () => {
    const problems = compareInventory(
      inventory({
        rows: new Map([row(1)]),
        rowIds: new Map([[id(1), key(1)]]),
        objects: new Set([key(1)]),
        records: new Set([key(1)]),
        renders: new Map([
          [id(1), [`renders/${id(1)}/a`]],
          [id(2), [`renders/${id(2)}/a`, `renders/${id(2)}/b`]],
        ]),
      }),
    );
    expect(problems.map((p) => [p.kind, p.subject])).toEqual([['render_without_xray', id(2)]]);
    expect(problems[0]?.message).toMatch(
      new RegExp(
        `X-ray ${id(2)} has no row but 2 cached rendered images under renders/${id(2)}/: run xray-admin recover`,
      ),
    );
  });
});
