import { constants, createPublicKey, generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { makeJpeg, sha256Hex } from '@xray/testkit';
import { encryptBytes, generateDek, rsaJwkThumbprint, uploadKeyEndorsementMessage, wrapKeyRsaOaep } from '@xray/shared';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.ts';
import { loadUploadKeys } from '../src/keys/upload-keys.ts';
import { start } from '../src/server.ts';
import { apiClient, createTestStorage, startTestServer, testServerEnv, type TestServer } from './harness.ts';
import { downloadSha, encodeMeta, MiB, startTus, tusMetadata } from './tus-client.ts';

const rsaPem = (bits: number) =>
  generateKeyPairSync('rsa', { modulusLength: bits }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const KEK = `k1:${randomBytes(32).toString('base64')}`;

/** start() with this environment must refuse; returns its message. */
async function refusal(env: Record<string, string>): Promise<string> {
  const storage = await createTestStorage('fs');
  try {
    const config = loadConfig(await testServerEnv(storage, env));
    const err: unknown = await start(config).then(
      async (s) => {
        await s.stop();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    return (err as Error).message;
  } finally {
    await storage.cleanup();
  }
}

describe('upload key strength', () => {
  it('refuses to start with a 1024- or 2048-bit UPLOAD_PRIVATE_KEY, naming the variable', async () => {
    expect(await refusal({ KEK, UPLOAD_PRIVATE_KEY: rsaPem(1024) })).toMatch(
      /UPLOAD_PRIVATE_KEY: is a 1024-bit RSA key; upload keys must have at least 3072 bits/,
    );
    expect(await refusal({ KEK, UPLOAD_PRIVATE_KEY: rsaPem(2048) })).toMatch(
      /UPLOAD_PRIVATE_KEY: is a 2048-bit RSA key/,
    );
    expect(await refusal({ KEK, UPLOAD_PRIVATE_KEY: rsaPem(2048), UPLOAD_PREVIOUS_PRIVATE_KEY: rsaPem(3072) })).toMatch(
      /UPLOAD_PRIVATE_KEY: is a 2048-bit RSA key/,
    );
  });

  it('a 2048-bit UPLOAD_PREVIOUS_PRIVATE_KEY only signs the endorsement (with a warning): not published, never unwraps', async () => {
    const weak = rsaPem(2048);
    const current = rsaPem(3072);
    const warnings: string[] = [];
    const ring = await loadUploadKeys(current, weak, { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([expect.stringMatching(/UPLOAD_PREVIOUS_PRIVATE_KEY is a 2048-bit RSA key/)]);
    const publicOf = (pem: string) => createPublicKey(pem).export({ format: 'jwk' });
    expect(ring.jwks.keys.map((k) => k.n)).toEqual([publicOf(current).n]);
    const weakKid = await rsaJwkThumbprint({ n: publicOf(weak).n!, e: publicOf(weak).e! });
    const [cur] = ring.jwks.keys;
    expect(ring.jwks.endorsements).toEqual([{ by: weakKid, for: cur!.kid, sig: expect.any(String) }]);
    const signed = verify(
      'sha256',
      uploadKeyEndorsementMessage(cur!.kid),
      { key: createPublicKey(weak), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
      Buffer.from(ring.jwks.endorsements![0]!.sig, 'base64url'),
    );
    expect(signed).toBe(true);
    // A data key wrapped for the weak key is not unwrapped: the edge is told to fetch the key set again.
    const weakPublic = await crypto.subtle.importKey(
      'jwk',
      { ...publicOf(weak), alg: 'RSA-OAEP-256' },
      { name: 'RSA-OAEP', hash: 'SHA-256' },
      false,
      ['wrapKey'],
    );
    const wrapped = await wrapKeyRsaOaep(await generateDek(), weakPublic);
    await expect(ring.unwrap(wrapped, weakKid)).rejects.toMatchObject({
      code: 'validation_failed',
      fields: [{ field: 'metadata.kid' }],
    });
  });
});

describe('upload key rotation', () => {
  const previous = rsaPem(3072);
  const current = rsaPem(3072);
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close();
  });

  it('publishes current then previous (endorsed by it) and accepts an upload wrapped for the previous key while it is configured', async () => {
    const rotating = await startTestServer('fs', {
      KEK,
      UPLOAD_PRIVATE_KEY: current,
      UPLOAD_PREVIOUS_PRIVATE_KEY: previous,
    });
    servers.push(rotating);
    // The key set as a generated client reads it: typed by the document, no cast.
    const { data: jwks = { keys: [] } } = await apiClient(rotating.url).GET('/keys/upload');
    const publicOf = (pem: string) => createPublicKey(pem).export({ format: 'jwk' });
    expect(jwks.keys.map((k) => k.n)).toEqual([publicOf(current).n, publicOf(previous).n]);
    const [cur, prev] = jwks.keys;
    // The previous key vouches for the current one: what lets an edge that pinned it trust the new key.
    expect(jwks.endorsements).toEqual([{ by: prev!.kid, for: cur!.kid, sig: expect.any(String) }]);
    const signed = verify(
      'sha256',
      uploadKeyEndorsementMessage(cur!.kid),
      { key: createPublicKey(previous), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
      Buffer.from(jwks.endorsements![0]!.sig, 'base64url'),
    );
    expect(signed).toBe(true);

    // An upload in flight during the rotation: its data key was wrapped for the previous key.
    const plain = makeJpeg({ seed: 71 });
    const sealedFor = async (jwk: JsonWebKey & { kid: string }) => {
      const key = await crypto.subtle.importKey('jwk', jwk, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['wrapKey']);
      const dek = await generateDek();
      const body = Buffer.from(await encryptBytes(dek, plain));
      const dekWrapped = Buffer.from(await wrapKeyRsaOaep(dek, key)).toString('base64');
      return { body, metadata: { ...tusMetadata(plain), dek: dekWrapped, kid: jwk.kid } };
    };
    const forPrevious = await sealedFor(prev!);
    const run = startTus({
      endpoint: `${rotating.url}/uploads`,
      file: forPrevious.body,
      metadata: forPrevious.metadata,
      chunkSize: MiB,
    });
    const { xrayId } = await run.done;
    expect(xrayId).toBe(forPrevious.metadata.id);
    expect(await downloadSha(rotating.url, xrayId!)).toBe(sha256Hex(plain));

    // Once the previous key is removed, an upload wrapped for it is told to fetch the key again.
    const rotated = await startTestServer('fs', { KEK, UPLOAD_PRIVATE_KEY: current });
    servers.push(rotated);
    const { data: after = { keys: [] } } = await apiClient(rotated.url).GET('/keys/upload');
    expect(after.keys.map((k) => k.kid)).toEqual([cur!.kid]);
    expect(after.endorsements).toBeUndefined();
    const late = await sealedFor(prev!);
    const refused = await fetch(`${rotated.url}/uploads`, {
      method: 'POST',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Length': String(late.body.length),
        'Upload-Metadata': encodeMeta(late.metadata),
      },
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { errors: { field: string }[] }).errors[0]?.field).toBe('metadata.kid');
  });
});
