import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { athOf, verifyDpopProof } from './dpop.proof.ts';

const url = new URL('https://xray.example/uploads/1');
const token = 'access-token';

async function deviceKey() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { privateKey, jwk: await exportJWK(publicKey) };
}

const proofBy = (privateKey: CryptoKey, jwk: JWK, claims: Record<string, unknown> = {}) =>
  new SignJWT({ htm: 'PATCH', htu: url.href, jti: randomUUID(), ath: athOf(token), ...claims })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk })
    .setIssuedAt()
    .sign(privateKey);

const expectation = { method: 'PATCH', url, accessToken: token, algorithms: ['ES256' as const], iatWindowS: 60 };

afterEach(() => {
  vi.restoreAllMocks();
});

describe('verifyDpopProof with a device that signs every request with one key', () => {
  it('imports the key once, and still checks every signature', async () => {
    const { privateKey, jwk } = await deviceKey();
    const imports = vi.spyOn(crypto.subtle, 'importKey');
    const first = await verifyDpopProof(await proofBy(privateKey, jwk), expectation);
    const second = await verifyDpopProof(await proofBy(privateKey, jwk), expectation);
    expect(imports).toHaveBeenCalledTimes(1);
    expect(second.jkt).toBe(first.jkt);
    expect(second.jti).not.toBe(first.jti);

    // The same key named, another key signing: refused, although the named key is known.
    const other = await deviceKey();
    await expect(verifyDpopProof(await proofBy(other.privateKey, jwk), expectation)).rejects.toMatchObject({
      code: 'dpop_invalid',
      message: expect.stringContaining('signature does not verify') as unknown,
    });
    // A proof whose claims were altered after signing: refused.
    const [h, , sig] = (await proofBy(privateKey, jwk)).split('.');
    const forged = Buffer.from(JSON.stringify({ htm: 'PATCH', htu: url.href, jti: 'x', ath: athOf(token), iat: 1 }));
    await expect(verifyDpopProof(`${h}.${forged.toString('base64url')}.${sig}`, expectation)).rejects.toMatchObject({
      code: 'dpop_invalid',
    });
  });

  it('gives each key its own thumbprint, and keeps no key it refused', async () => {
    const a = await deviceKey();
    const b = await deviceKey();
    const pa = await verifyDpopProof(await proofBy(a.privateKey, a.jwk), expectation);
    const pb = await verifyDpopProof(await proofBy(b.privateKey, b.jwk), expectation);
    expect(pa.jkt).not.toBe(pb.jkt);
    // A public key that is not on its curve: refused each time it is sent, never remembered as good.
    const bad = { ...a.jwk, x: b.jwk.x };
    for (let i = 0; i < 2; i++) {
      await expect(verifyDpopProof(await proofBy(a.privateKey, bad), expectation)).rejects.toMatchObject({
        code: 'dpop_invalid',
      });
    }
  });
});
