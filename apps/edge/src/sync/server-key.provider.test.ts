import {
  UPLOAD_KEY_ENDORSEMENT_ALGORITHM,
  rsaJwkThumbprint,
  uploadKeyEndorsementMessage,
  type UploadJwk,
  type UploadJwks,
} from '@xray/shared';
import { beforeAll, describe, expect, it } from 'vitest';
import { SERVER_KEY_MAX_AGE_MS, UNTRUSTED_SERVER_KEY_MESSAGE } from './server-key.provider.ts';
import { UploadError } from './uploader.ts';
import { blobOf, engineRig, serverKeyRig, smallPng, validInput, wrapsFor } from '../../test/fixtures.ts';

interface UploadKeyPair {
  jwk: UploadJwk;
  privateKey: CryptoKey;
  /** The same private key for RSA-PSS: how a server's previous key endorses its next one. */
  signingKey: CryptoKey;
}

async function uploadKeyPair(): Promise<UploadKeyPair> {
  const pair = await crypto.subtle.generateKey(
    { name: 'RSA-OAEP', modulusLength: 3072, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    true,
    ['wrapKey', 'unwrapKey'],
  );
  const { n = '', e = '' } = await crypto.subtle.exportKey('jwk', pair.publicKey);
  const { alg: _alg, key_ops: _ops, ...priv } = await crypto.subtle.exportKey('jwk', pair.privateKey);
  const signingKey = await crypto.subtle.importKey('jwk', priv, { name: 'RSA-PSS', hash: 'SHA-256' }, false, ['sign']);
  const jwk: UploadJwk = { kty: 'RSA', n, e, alg: 'RSA-OAEP-256', use: 'enc', kid: await rsaJwkThumbprint({ n, e }) };
  return { jwk, privateKey: pair.privateKey, signingKey };
}

async function endorse(by: UploadKeyPair, next: UploadKeyPair) {
  const sig = await crypto.subtle.sign(
    UPLOAD_KEY_ENDORSEMENT_ALGORITHM,
    by.signingKey,
    uploadKeyEndorsementMessage(next.jwk.kid),
  );
  return { by: by.jwk.kid, for: next.jwk.kid, sig: Buffer.from(sig).toString('base64url') };
}

/** A server (or a gateway in front of it) whose /keys/upload answer the test sets. */
function keyServer() {
  const server = {
    jwks: { keys: [] } as UploadJwks,
    fetches: 0,
    fetch: async (): Promise<Response> => {
      server.fetches++;
      return Response.json(server.jwks);
    },
  };
  return server;
}

/** A provider over its own database and a clock the test moves. */
async function rig() {
  const server = keyServer();
  return serverKeyRig(server, server.fetch);
}

let A: UploadKeyPair;
let B: UploadKeyPair;
let X: UploadKeyPair;
beforeAll(async () => {
  [A, B, X] = await Promise.all([uploadKeyPair(), uploadKeyPair(), uploadKeyPair()]);
});

describe('server upload key pinning', () => {
  it('pins the first key set, then refuses a swapped one and never wraps for a key it did not pin', async () => {
    const { server, provider, pins } = await rig();
    server.jwks = { keys: [A.jwk] };
    const first = await provider.current();
    expect(first.kid).toBe(A.jwk.kid);
    expect(await pins()).toEqual([A.jwk.kid]);

    // A gateway hands out its own key: refused, the pins stay as they were.
    server.jwks = { keys: [X.jwk] };
    const refused = await provider.refresh().catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(UploadError);
    expect((refused as UploadError).failure).toEqual({ kind: 'untrusted-key', message: UNTRUSTED_SERVER_KEY_MESSAGE });
    expect(await pins()).toEqual([A.jwk.kid]);

    // Listing the pinned (public) key beside its own, even "endorsed" by itself, gains it nothing:
    // the data key still goes to the pinned key.
    server.jwks = { keys: [X.jwk, A.jwk], endorsements: [await endorse(X, X)] };
    const chosen = await provider.refresh();
    expect(chosen.kid).toBe(A.jwk.kid);
    expect(await wrapsFor(chosen.key, A)).toBe(true);
    expect(await wrapsFor(chosen.key, X)).toBe(false);
    expect(await pins()).toEqual([A.jwk.kid]);
  });

  it('accepts a rotation: a new key beside its pinned key, signed by it, is used and pinned', async () => {
    const { server, clock, provider, pins } = await rig();
    server.jwks = { keys: [A.jwk] };
    await provider.current();

    // The server rotated: current B first, previous A after it, A's signature over B.
    server.jwks = { keys: [B.jwk, A.jwk], endorsements: [await endorse(A, B)] };
    clock.now += SERVER_KEY_MAX_AGE_MS + 1; // the key set is read again after an hour
    const rotated = await provider.current();
    expect(rotated.kid).toBe(B.jwk.kid);
    expect(await wrapsFor(rotated.key, B)).toBe(true);
    expect(await pins()).toEqual([B.jwk.kid, A.jwk.kid]); // newest first

    // The grace period is over: B alone is trusted now (A is retired), and a signature by an unpinned key is not.
    server.jwks = { keys: [B.jwk] };
    expect((await provider.refresh()).kid).toBe(B.jwk.kid);
    expect(await pins()).toEqual([B.jwk.kid]);
    server.jwks = { keys: [X.jwk], endorsements: [await endorse(X, X)] };
    await expect(provider.refresh()).rejects.toMatchObject({ failure: { kind: 'untrusted-key' } });
  });

  it('an edge given a different upload key refuses to send: the capture needs attention, no byte is uploaded', async () => {
    const keys = await rig();
    keys.server.jwks = { keys: [A.jwk] };
    await keys.provider.current();
    keys.server.jwks = { keys: [X.jwk] };
    keys.clock.now += SERVER_KEY_MAX_AGE_MS + 1;

    const engine = await engineRig({ serverKeys: keys.provider });
    const c = await engine.capture(blobOf(smallPng(31)), validInput());
    await engine.engine.start();
    await engine.engine.settled();
    expect(await engine.db.captures.get(c.id)).toMatchObject({
      status: 'needs-attention',
      lastError: { code: 'untrusted-key', message: UNTRUSTED_SERVER_KEY_MESSAGE },
    });
    expect(engine.server.attempts).toEqual([]);
    await engine.engine.stop();
  });
});
