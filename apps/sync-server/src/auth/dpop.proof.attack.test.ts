import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { JwtAlgorithm } from '../config/config.ts';
import { athOf, verifyDpopProof } from './dpop.proof.ts';

// Attacks on the cache of embedded DPoP keys (by algorithm and exact JWK text): a key or a
// thumbprint must never come from the cache for a proof the uncached code would refuse, and the
// cache must stay bounded whatever keys clients send.

const url = new URL('https://xray.example/uploads/1');
const token = 'access-token';
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

type SignParams = AlgorithmIdentifier | EcdsaParams | RsaPssParams;
const ES256: SignParams = { name: 'ECDSA', hash: 'SHA-256' };
const ES384: SignParams = { name: 'ECDSA', hash: 'SHA-384' };
const PS256: SignParams = { name: 'RSA-PSS', saltLength: 32 };
const EDDSA: SignParams = { name: 'Ed25519' };

/** A proof built byte by byte: the header exactly as given (member order, types), signed as told. */
async function rawProof(
  privateKey: CryptoKey,
  params: SignParams,
  header: Record<string, unknown>,
  claims: Record<string, unknown> = {},
): Promise<string> {
  const payload = {
    htm: 'PATCH',
    htu: url.href,
    jti: randomUUID(),
    ath: athOf(token),
    iat: Math.floor(Date.now() / 1000),
    ...claims,
  };
  const input = `${b64({ typ: 'dpop+jwt', ...header })}.${b64(payload)}`;
  const sig = new Uint8Array(await crypto.subtle.sign(params, privateKey, new TextEncoder().encode(input)));
  return `${input}.${Buffer.from(sig).toString('base64url')}`;
}

const ecKey = async (crv: 'P-256' | 'P-384' = 'P-256') => {
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: crv }, true, ['sign', 'verify']);
  const { kty, crv: c, x, y } = await exportJWK(pair.publicKey);
  return { privateKey: pair.privateKey, jwk: { kty, crv: c, x, y } as JWK };
};

const expectation = (algorithms: JwtAlgorithm[] = ['ES256']) => ({
  method: 'PATCH',
  url,
  accessToken: token,
  algorithms,
  iatWindowS: 60,
});

const refused = (p: Promise<unknown>) => expect(p).rejects.toMatchObject({ code: 'dpop_invalid' });

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the embedded-key cache and the algorithm of each proof', () => {
  it('refuses a header naming another algorithm for a key cached under ES256, and still accepts ES256 after', async () => {
    const a = await ecKey();
    const jkt = await calculateJwkThumbprint(a.jwk);
    const both = expectation(['ES256', 'ES384']);
    expect((await verifyDpopProof(await rawProof(a.privateKey, ES256, { alg: 'ES256', jwk: a.jwk }), both)).jkt).toBe(
      jkt,
    );
    // The same P-256 key, signing with SHA-384, under ES384: no such JOSE key, refused every time.
    for (let i = 0; i < 2; i++)
      await refused(verifyDpopProof(await rawProof(a.privateKey, ES384, { alg: 'ES384', jwk: a.jwk }), both));
    // A P-384 key signing under ES384, while the header names the cached P-256 key: refused.
    const b = await ecKey('P-384');
    await refused(verifyDpopProof(await rawProof(b.privateKey, ES384, { alg: 'ES384', jwk: a.jwk }), both));
    // An algorithm the server does not accept, for a cached key: refused as such, whatever the cache holds.
    await expect(
      verifyDpopProof(await rawProof(a.privateKey, ES384, { alg: 'ES384', jwk: a.jwk }), expectation(['ES256'])),
    ).rejects.toMatchObject({ code: 'dpop_invalid', message: expect.stringContaining('algorithm is not accepted') });
    expect((await verifyDpopProof(await rawProof(a.privateKey, ES256, { alg: 'ES256', jwk: a.jwk }), both)).jkt).toBe(
      jkt,
    );
  });

  it('EdDSA and Ed25519 name one key type, but only the accepted name passes', async () => {
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const { kty, crv, x } = await exportJWK(pair.publicKey);
    const jwk = { kty, crv, x };
    const ok = await verifyDpopProof(
      await rawProof(pair.privateKey, EDDSA, { alg: 'EdDSA', jwk }),
      expectation(['EdDSA']),
    );
    expect(ok.jkt).toBe(await calculateJwkThumbprint(jwk as JWK));
    await expect(
      verifyDpopProof(await rawProof(pair.privateKey, EDDSA, { alg: 'Ed25519', jwk }), expectation(['EdDSA'])),
    ).rejects.toMatchObject({ message: expect.stringContaining('algorithm is not accepted') });
    // An Ed25519 key under ES256, and a P-256 key under EdDSA: refused.
    const ec = await ecKey();
    await refused(
      verifyDpopProof(await rawProof(pair.privateKey, EDDSA, { alg: 'ES256', jwk }), expectation(['ES256', 'EdDSA'])),
    );
    await refused(
      verifyDpopProof(
        await rawProof(ec.privateKey, ES256, { alg: 'EdDSA', jwk: ec.jwk }),
        expectation(['ES256', 'EdDSA']),
      ),
    );
  });

  it('refuses an RSA key under ES256, an RSA key too short for PS256 (each time, though it imported), and a P-384 key under ES256', async () => {
    const rsa = await crypto.subtle.generateKey(
      { name: 'RSA-PSS', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      true,
      ['sign', 'verify'],
    );
    const { kty, n, e } = await exportJWK(rsa.publicKey);
    const rsaJwk = { kty, n, e };
    const algs = expectation(['ES256', 'PS256']);
    // Accepted under PS256 ...
    expect(
      (await verifyDpopProof(await rawProof(rsa.privateKey, PS256, { alg: 'PS256', jwk: rsaJwk }), algs)).jkt,
    ).toBe(await calculateJwkThumbprint(rsaJwk as JWK));
    // ... not under ES256, whatever signs.
    const ec = await ecKey();
    await refused(verifyDpopProof(await rawProof(ec.privateKey, ES256, { alg: 'ES256', jwk: rsaJwk }), algs));
    await refused(verifyDpopProof(await rawProof(rsa.privateKey, PS256, { alg: 'ES256', jwk: rsaJwk }), algs));

    const short = await crypto.subtle.generateKey(
      { name: 'RSA-PSS', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      true,
      ['sign', 'verify'],
    );
    const s = await exportJWK(short.publicKey);
    for (let i = 0; i < 3; i++)
      await refused(
        verifyDpopProof(
          await rawProof(short.privateKey, PS256, { alg: 'PS256', jwk: { kty: s.kty, n: s.n, e: s.e } }),
          algs,
        ),
      );

    const p384 = await ecKey('P-384');
    for (let i = 0; i < 2; i++)
      await refused(verifyDpopProof(await rawProof(p384.privateKey, ES384, { alg: 'ES256', jwk: p384.jwk }), algs));
  });
});

describe('the embedded-key cache and the members of the JWK', () => {
  it('another text of the same public key (order, known and unknown members) gives the same thumbprint', async () => {
    const a = await ecKey();
    const jkt = await calculateJwkThumbprint(a.jwk);
    const { kty, crv, x, y } = a.jwk;
    const variants: Record<string, unknown>[] = [
      { kty, crv, x, y },
      { y, x, crv, kty },
      { kty, crv, x, y, use: 'sig' },
      { kty, crv, x, y, alg: 'ES256' },
      { kty, crv, x, y, key_ops: ['verify'] },
      { kty, crv, x, y, ext: true },
      // jose imports an embedded key as extractable whatever ext says: false does not refuse it.
      { kty, crv, x, y, ext: false },
      { kty, crv, x, y, kid: 'device-1', x5u: 'https://evil.example/' },
      // A member named __proto__ (an own member once parsed), holding a private-looking d.
      JSON.parse(`{"kty":"EC","__proto__":{"d":"AAAA"},"crv":"P-256","x":"${x}","y":"${y}"}`) as Record<
        string,
        unknown
      >,
    ];
    expect(JSON.stringify(variants.at(-1))).toContain('__proto__');
    for (const jwk of variants) {
      const proof = await rawProof(a.privateKey, ES256, { alg: 'ES256', jwk });
      const got = await verifyDpopProof(proof, expectation());
      expect(got.jkt).toBe(jkt);
    }
  });

  it('refuses, every time and also once the plain key is cached, the members jose refuses or that make a private or symmetric key', async () => {
    const a = await ecKey();
    const { kty, crv, x, y } = a.jwk;
    await verifyDpopProof(await rawProof(a.privateKey, ES256, { alg: 'ES256', jwk: a.jwk }), expectation());
    const pk = await crypto.subtle.exportKey('jwk', a.privateKey);
    const bad: Record<string, unknown>[] = [
      { kty, crv, x, y, use: 'enc' },
      { kty, crv, x, y, alg: 'ES384' },
      { kty, crv, x, y, alg: 'none' },
      { kty, crv, x, y, key_ops: ['sign'] },
      { kty, crv, x, y, key_ops: [] },
      { kty, crv, x, y, key_ops: ['verify', 'verify'] },
      { kty, crv, x, y, key_ops: 'verify' },
      { kty, crv, x, y, ext: 'true' },
      { kty, crv, x, y, d: pk.d },
      { kty: 'oct', k: x },
      { kty: 'oct', crv, x, y },
      { kty: 'RSA', crv, x, y },
      { kty: 'OKP', crv: 'Ed25519', x },
      { kty, crv: 'P-384', x, y },
      { kty, crv, x },
      { kty, crv, x: y, y: x },
    ];
    for (const jwk of bad)
      for (let i = 0; i < 2; i++)
        await refused(verifyDpopProof(await rawProof(a.privateKey, ES256, { alg: 'ES256', jwk }), expectation()));
    // The plain key still serves.
    await verifyDpopProof(await rawProof(a.privateKey, ES256, { alg: 'ES256', jwk: a.jwk }), expectation());
  });

  it('a JWK whose members are not strings is refused as an invalid proof (never an unexpected error)', async () => {
    const a = await ecKey();
    const { kty, crv, x, y } = a.jwk;
    // Web Crypto reads ["…"] as the string "…": the key imports and the signature verifies, but the
    // RFC 7638 thumbprint needs strings.
    for (const jwk of [
      { kty, crv, x: [x], y },
      { kty, crv: [crv], x, y },
    ])
      for (let i = 0; i < 2; i++)
        await expect(
          verifyDpopProof(await rawProof(a.privateKey, ES256, { alg: 'ES256', jwk }), expectation()),
        ).rejects.toMatchObject({ code: 'dpop_invalid' });
  });

  it('a cached key vouches for no other signer, even when the header carries it in another text', async () => {
    const a = await ecKey();
    const b = await ecKey();
    await verifyDpopProof(await rawProof(a.privateKey, ES256, { alg: 'ES256', jwk: a.jwk }), expectation());
    for (const jwk of [a.jwk, { ...a.jwk, kid: 'x' }, { y: a.jwk.y, x: a.jwk.x, crv: a.jwk.crv, kty: a.jwk.kty }])
      await expect(
        verifyDpopProof(await rawProof(b.privateKey, ES256, { alg: 'ES256', jwk }), expectation()),
      ).rejects.toMatchObject({ code: 'dpop_invalid', message: expect.stringContaining('signature does not verify') });
    // B's own key gives B's thumbprint, never A's.
    const pb = await verifyDpopProof(await rawProof(b.privateKey, ES256, { alg: 'ES256', jwk: b.jwk }), expectation());
    expect(pb.jkt).toBe(await calculateJwkThumbprint(b.jwk));
    expect(pb.jkt).not.toBe(await calculateJwkThumbprint(a.jwk));
  });
});

describe('the embedded-key cache under load', () => {
  it('concurrent first uses of one key import it once, and each proof is checked', async () => {
    const a = await ecKey();
    const imports = vi.spyOn(crypto.subtle, 'importKey');
    const proofs = await Promise.all(
      Array.from({ length: 40 }, () => rawProof(a.privateKey, ES256, { alg: 'ES256', jwk: a.jwk })),
    );
    // One of them tampered with: its signature belongs to another payload.
    const [h, , s] = proofs[0]!.split('.');
    const [, p] = proofs[1]!.split('.');
    const results = await Promise.allSettled(
      [...proofs, `${h}.${p}.${s}`].map((proof) => verifyDpopProof(proof, expectation())),
    );
    expect(imports).toHaveBeenCalledTimes(1);
    const ok = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
    expect(ok).toHaveLength(40);
    expect(new Set(ok.map((r) => r.jkt))).toEqual(new Set([await calculateJwkThumbprint(a.jwk)]));
    expect(new Set(ok.map((r) => r.jti)).size).toBe(40);
    expect(results[40]).toMatchObject({ status: 'rejected', reason: { code: 'dpop_invalid' } });
  });

  it('concurrent first uses of a key that does not import all fail, and it is not kept', async () => {
    const a = await ecKey();
    const b = await ecKey();
    const offCurve = { ...a.jwk, x: b.jwk.x };
    const imports = vi.spyOn(crypto.subtle, 'importKey');
    const proofs = await Promise.all(
      Array.from({ length: 20 }, () => rawProof(a.privateKey, ES256, { alg: 'ES256', jwk: offCurve })),
    );
    const results = await Promise.allSettled(proofs.map((proof) => verifyDpopProof(proof, expectation())));
    expect(
      results.every((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'dpop_invalid'),
    ).toBe(true);
    expect(imports).toHaveBeenCalledTimes(1);
    await refused(verifyDpopProof(await rawProof(a.privateKey, ES256, { alg: 'ES256', jwk: offCurve }), expectation()));
    expect(imports).toHaveBeenCalledTimes(2);
  });

  it('many distinct keys do not grow it past 1,000 entries: the oldest is imported again', async () => {
    const a = await ecKey();
    const jwkNo = (i: number) => ({ ...a.jwk, kid: `k${i}` });
    const imports = vi.spyOn(crypto.subtle, 'importKey');
    for (let i = 0; i <= 1_000; i++)
      await verifyDpopProof(await rawProof(a.privateKey, ES256, { alg: 'ES256', jwk: jwkNo(i) }), expectation());
    expect(imports).toHaveBeenCalledTimes(1_001);
    // The newest is still kept; the first was dropped.
    await verifyDpopProof(await rawProof(a.privateKey, ES256, { alg: 'ES256', jwk: jwkNo(1_000) }), expectation());
    expect(imports).toHaveBeenCalledTimes(1_001);
    await verifyDpopProof(await rawProof(a.privateKey, ES256, { alg: 'ES256', jwk: jwkNo(0) }), expectation());
    expect(imports).toHaveBeenCalledTimes(1_002);
  }, 60_000);

  it('large keys near the 8 KiB proof limit are bounded by size (4 MiB of key text), well before 1,000 of them', async () => {
    const a = await ecKey();
    // A header of ~5.6 KiB: its proof is just under 8 KiB.
    const pad = 'p'.repeat(5_500);
    const jwkNo = (i: number) => ({ ...a.jwk, kid: `${i}-${pad}` });
    const first = await rawProof(a.privateKey, ES256, { alg: 'ES256', jwk: jwkNo(0) });
    expect(first.length).toBeGreaterThan(7_500);
    expect(first.length).toBeLessThanOrEqual(8_192);
    const imports = vi.spyOn(crypto.subtle, 'importKey');
    await verifyDpopProof(first, expectation());
    // 4 MiB / ~5.6 Ki characters: some 750 entries fit; 800 more push the first out.
    for (let i = 1; i <= 800; i++)
      await verifyDpopProof(await rawProof(a.privateKey, ES256, { alg: 'ES256', jwk: jwkNo(i) }), expectation());
    expect(imports).toHaveBeenCalledTimes(801);
    await verifyDpopProof(await rawProof(a.privateKey, ES256, { alg: 'ES256', jwk: jwkNo(800) }), expectation());
    expect(imports).toHaveBeenCalledTimes(801);
    await verifyDpopProof(await rawProof(a.privateKey, ES256, { alg: 'ES256', jwk: jwkNo(0) }), expectation());
    expect(imports).toHaveBeenCalledTimes(802);
    // Over 8 KiB: refused before any import.
    const tooBig = await rawProof(a.privateKey, ES256, { alg: 'ES256', jwk: { ...a.jwk, kid: 'p'.repeat(6_500) } });
    expect(tooBig.length).toBeGreaterThan(8_192);
    await refused(verifyDpopProof(tooBig, expectation()));
    expect(imports).toHaveBeenCalledTimes(802);
  }, 60_000);

  it('a key refused by its signature only (random signer) is still refused each time once cached', async () => {
    const a = await ecKey();
    const b = await ecKey();
    for (let i = 0; i < 3; i++)
      await expect(
        verifyDpopProof(await rawProof(b.privateKey, ES256, { alg: 'ES256', jwk: a.jwk }), expectation()),
      ).rejects.toMatchObject({ code: 'dpop_invalid', message: expect.stringContaining('signature does not verify') });
  });
});
