import { describe, expect, it } from 'vitest';
import {
  decryptBytes,
  encryptBytes,
  generateDek,
  importDek,
  unwrapKeyAesKw,
  unwrapKeyRsaOaep,
  wrapKeyAesKw,
  wrapKeyRsaOaep,
} from '../src/crypto/index.ts';
import { expectCode, flipBit } from './xre1.helpers.ts';

const kek = () => crypto.subtle.generateKey({ name: 'AES-KW', length: 256 }, false, ['wrapKey', 'unwrapKey']);
const rsaPair = (hash: 'SHA-256' | 'SHA-1') =>
  crypto.subtle.generateKey(
    { name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash },
    false,
    ['wrapKey', 'unwrapKey'],
  );

describe('data keys', () => {
  it('generates extractable AES-256-GCM keys', async () => {
    const dek = await generateDek();
    expect(dek.extractable).toBe(true);
    expect(dek.algorithm).toMatchObject({ name: 'AES-GCM', length: 256 });
    expect(new Uint8Array(await crypto.subtle.exportKey('raw', dek))).toHaveLength(32);
  });

  it('imports 32 raw bytes and nothing else', async () => {
    const raw = crypto.getRandomValues(new Uint8Array(32));
    const dek = await importDek(raw);
    expect(new Uint8Array(await crypto.subtle.exportKey('raw', dek))).toEqual(raw);
    await expect(importDek(new Uint8Array(16))).rejects.toThrow(RangeError);
  });

  it('AES-KW: wraps to 40 bytes and unwraps to a key that decrypts', async () => {
    const dek = await generateDek();
    const device = await kek();
    const wrapped = await wrapKeyAesKw(dek, device);
    expect(wrapped).toHaveLength(40);
    const ciphertext = await encryptBytes(dek, new Uint8Array([1, 2, 3]));
    const unwrapped = await unwrapKeyAesKw(wrapped, device);
    expect(await decryptBytes(unwrapped, ciphertext)).toEqual(new Uint8Array([1, 2, 3]));
    expect((await unwrapKeyAesKw(wrapped, device, { extractable: false })).extractable).toBe(false);
  });

  it('AES-KW: a wrong KEK or a modified wrapped key is unwrap_failed', async () => {
    const wrapped = await wrapKeyAesKw(await generateDek(), await kek());
    await expectCode(unwrapKeyAesKw(wrapped, await kek()), 'unwrap_failed');
  });

  it('RSA-OAEP-256: wraps for the server and unwraps with its private key', async () => {
    const dek = await generateDek();
    const server = await rsaPair('SHA-256');
    const wrapped = await wrapKeyRsaOaep(dek, server.publicKey);
    expect(wrapped).toHaveLength(256);
    const ciphertext = await encryptBytes(dek, new Uint8Array([9, 8, 7]));
    const unwrapped = await unwrapKeyRsaOaep(wrapped, server.privateKey);
    expect(await decryptBytes(unwrapped, ciphertext)).toEqual(new Uint8Array([9, 8, 7]));
    await expectCode(unwrapKeyRsaOaep(flipBit(wrapped, 10), server.privateKey), 'unwrap_failed');
  });

  it('RSA-OAEP: refuses keys that do not use SHA-256', async () => {
    const sha1 = await rsaPair('SHA-1');
    await expect(wrapKeyRsaOaep(await generateDek(), sha1.publicKey)).rejects.toThrow(TypeError);
  });
});
