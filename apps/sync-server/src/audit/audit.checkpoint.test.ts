import { generateKeyPairSync } from 'node:crypto';
import { CompactSign } from 'jose';
import { describe, expect, it } from 'vitest';
import { anchorSignerFromPem, anchorVerifierFromPem, AuditAnchorKeyError } from './audit-anchor.key.ts';
import { checkpointName, CheckpointInvalidError, openCheckpoint, signCheckpoint } from './audit.checkpoint.ts';

const ed25519Pem = () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

const checkpoint = { count: 42, headId: '57', headHash: 'a'.repeat(64), time: new Date('2026-11-27T08:15:00.123Z') };

describe('audit checkpoints', () => {
  it('a signed checkpoint opens with the public half alone, as what was signed', async () => {
    const signer = await anchorSignerFromPem(ed25519Pem());
    const jws = await signCheckpoint(checkpoint, signer);
    const publicPem = signer.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const opened = await openCheckpoint(checkpointName(42), jws, await anchorVerifierFromPem(publicPem));
    expect(opened).toEqual({ ...checkpoint, name: '0000000000000042.jws' });
  });

  it('refuses another key, an altered payload, another count in the name, and other tokens', async () => {
    const signer = await anchorSignerFromPem(ed25519Pem());
    const other = await anchorSignerFromPem(ed25519Pem());
    const jws = await signCheckpoint(checkpoint, signer);
    const refused = (name: string, body: string, key = signer) =>
      expect(openCheckpoint(name, body, key)).rejects.toThrow(CheckpointInvalidError);

    await refused(checkpointName(42), jws, other);
    const [header, , signature] = jws.split('.');
    const forged = Buffer.from(JSON.stringify({ ...checkpoint, count: 41, time: checkpoint.time.toISOString() }));
    await refused(checkpointName(41), `${header}.${forged.toString('base64url')}.${signature}`);
    await refused(checkpointName(41), jws);
    await refused('latest.jws', jws);
    await refused(checkpointName(42), 'not a jws');
    // Signed by the anchor key, but not a checkpoint.
    const token = await new CompactSign(new TextEncoder().encode('{"sub":"x"}'))
      .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid, typ: 'JWT' })
      .sign(signer.privateKey);
    await refused(checkpointName(42), token);
  });

  it('the anchor key must be an Ed25519 private key', async () => {
    await expect(anchorSignerFromPem('nonsense')).rejects.toThrow(AuditAnchorKeyError);
    const x25519 = generateKeyPairSync('x25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await expect(anchorSignerFromPem(x25519)).rejects.toThrow(/x25519 key; an Ed25519 key is needed/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    await expect(anchorSignerFromPem(rsa.toString())).rejects.toThrow(/rsa key; an Ed25519 key is needed/);
  });
});
