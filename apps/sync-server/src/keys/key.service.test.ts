import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { generateDek, wrapKeyAesKw } from '@xray/shared';
import { beforeAll, describe, expect, it } from 'vitest';
import { BOUND_WRAP_LENGTH, wrapFormatOf } from './dek-wrap.ts';
import { createConfigKeyService, type KeyService } from './key.service.ts';

const uploadPrivateKeyPem = generateKeyPairSync('rsa', { modulusLength: 3072 })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();

const k1 = randomBytes(32);
const service = async (keks: Record<string, Buffer>, current = Object.keys(keks)[0]!): Promise<KeyService> => {
  const keys = await createConfigKeyService({
    keks: Object.entries(keks).map(([id, k]) => ({ id, key: k.toString('base64') })),
    currentKekId: current,
    uploadPrivateKeyPem,
  });
  for (const id of Object.keys(keks)) keys.confirmKek(id, true);
  return keys;
};
const raw = async (k: CryptoKey) => Buffer.from(await crypto.subtle.exportKey('raw', k));

describe('data-key wraps bound to their X-ray', () => {
  let keys: KeyService;
  const a = { xrayId: '11111111-1111-4111-8111-111111111111', objectKey: 'xrays/a/1' };
  const b = { xrayId: '22222222-2222-4222-8222-222222222222', objectKey: 'xrays/b/2' };
  beforeAll(async () => {
    keys = await service({ k1 });
  });

  it('round-trips for its own X-ray, object and KEK id; the format has its version byte', async () => {
    const dek = await generateDek();
    const { wrapped, kekId } = await keys.wrapDek(dek, a);
    expect(kekId).toBe('k1');
    expect(wrapped.length).toBe(BOUND_WRAP_LENGTH);
    expect(wrapFormatOf(wrapped)).toBe('bound-v1');
    const back = await keys.unwrapDek(wrapped, 'k1', a, { extractable: true });
    expect((await raw(back)).equals(await raw(dek))).toBe(true);
    // Reading needs no key bytes: not extractable unless asked.
    expect((await keys.unwrapDek(wrapped, 'k1', a)).extractable).toBe(false);
  });

  it('does not open for another X-ray, another object, or the same key under another id', async () => {
    const { wrapped } = await keys.wrapDek(await generateDek(), a);
    const twin = await service({ k1, 'k1-copy': k1 });
    for (const [kekId, binding] of [
      ['k1', b],
      ['k1', { ...a, objectKey: b.objectKey }],
      ['k1', { ...a, xrayId: b.xrayId }],
    ] as const) {
      await expect(keys.unwrapDek(wrapped, kekId, binding)).rejects.toMatchObject({ code: 'integrity_failed' });
    }
    await expect(twin.unwrapDek(wrapped, 'k1-copy', a)).rejects.toMatchObject({ code: 'integrity_failed' });
    const flipped = Uint8Array.from(wrapped);
    flipped[20]! ^= 1;
    await expect(keys.unwrapDek(flipped, 'k1', a)).rejects.toMatchObject({ code: 'integrity_failed' });
  });

  it('still reads legacy AES-KW wraps (unbound), and nothing of an unknown format', async () => {
    const dek = await generateDek();
    const kw = await crypto.subtle.importKey('raw', k1, 'AES-KW', false, ['wrapKey']);
    const legacy = await wrapKeyAesKw(dek, kw);
    expect(wrapFormatOf(legacy)).toBe('aes-kw');
    expect((await raw(await keys.unwrapDek(legacy, 'k1', a, { extractable: true }))).equals(await raw(dek))).toBe(true);
    await expect(keys.unwrapDek(new Uint8Array(50), 'k1', a)).rejects.toMatchObject({ code: 'integrity_failed' });
  });

  it('gives a KEK one bit off another check value, and wraps nothing under an unconfirmed KEK', async () => {
    const off = Buffer.from(k1);
    off[31]! ^= 1;
    const wrong = await createConfigKeyService({
      keks: [{ id: 'k1', key: off.toString('base64') }],
      currentKekId: 'k1',
      uploadPrivateKeyPem,
    });
    expect(wrong.checkValue('k1').equals(keys.checkValue('k1'))).toBe(false);
    expect(keys.checkValue('k1').length).toBe(32);
    await expect(wrong.wrapDek(await generateDek(), a)).rejects.toMatchObject({ code: 'unavailable' });
    wrong.confirmKek('k1', true);
    const { wrapped } = await wrong.wrapDek(await generateDek(), a);
    await expect(keys.unwrapDek(wrapped, 'k1', a)).rejects.toMatchObject({ code: 'integrity_failed' });
  });
});
