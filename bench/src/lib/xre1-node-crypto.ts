import { createDecipheriv } from 'node:crypto';
import { parseHeader, TAG_LENGTH } from '@xray/shared';

/**
 * An experiment, not the format's implementation: XRE1 decryption with node:crypto (OpenSSL,
 * synchronous, no WebCrypto copies or thread-pool hops), segment by segment. It shows how fast
 * a Node-only fast path in the server could decrypt the very same objects.
 */
export function decryptXre1NodeCrypto(rawKey: Uint8Array, ciphertext: Uint8Array): Buffer {
  const { header, headerTotalLength } = parseHeader(ciphertext);
  const segment = header.segmentSize + TAG_LENGTH;
  const out: Buffer[] = [];
  const nonce = Buffer.alloc(12);
  nonce.set(header.noncePrefix, 0);
  for (let at = headerTotalLength, i = 0; at < ciphertext.length || i === 0; at += segment, i++) {
    const end = Math.min(at + segment, ciphertext.length);
    const last = end === ciphertext.length;
    nonce.writeUInt32BE(i, 7);
    nonce[11] = last ? 1 : 0;
    const d = createDecipheriv('aes-256-gcm', rawKey, nonce);
    d.setAAD(header.json);
    d.setAuthTag(ciphertext.subarray(end - TAG_LENGTH, end));
    out.push(d.update(ciphertext.subarray(at, end - TAG_LENGTH)));
    d.final();
    if (last) break;
  }
  return Buffer.concat(out);
}
