/**
 * Writes test-vectors/xre1.json. Run from packages/shared: npx tsx test/xre1.vectors.gen.ts
 * The output must not change unless the format does; xre1.test.ts checks it against the code.
 */
import { writeFileSync } from 'node:fs';
import { encryptBytes } from '../src/crypto/index.ts';
import {
  PLAINTEXT_RULE,
  VECTORS_PATH,
  VECTOR_CASES,
  VECTOR_KEY,
  VECTOR_NONCE_PREFIX,
  type Vector,
  type VectorFile,
  sha256Hex,
  toHex,
  vectorDek,
  vectorPlaintext,
} from './xre1.fixtures.ts';

const dek = await vectorDek();
const vectors: Vector[] = [];
for (const c of VECTOR_CASES) {
  const plaintext = vectorPlaintext(c.plaintextLength);
  const ciphertext = await encryptBytes(dek, plaintext, {
    noncePrefix: VECTOR_NONCE_PREFIX,
    segmentSize: c.segmentSize,
  });
  vectors.push({
    name: c.name,
    segmentSize: c.segmentSize,
    plaintextLength: c.plaintextLength,
    plaintextSha256: sha256Hex(plaintext),
    ciphertextLength: ciphertext.length,
    ciphertextSha256: sha256Hex(ciphertext),
    ...(c.includeHex ? { ciphertextHex: toHex(ciphertext) } : {}),
  });
}

const file: VectorFile = {
  format: 'XRE1',
  description:
    'XRE1 test vectors: "XRE1" | u32be(H) | header JSON | AES-256-GCM segments, ' +
    'nonce = prefix(7) | u32be(index) | last(1), AAD = header JSON, 16-byte tags.',
  key: toHex(VECTOR_KEY),
  noncePrefix: toHex(VECTOR_NONCE_PREFIX),
  plaintext: PLAINTEXT_RULE,
  vectors,
};
writeFileSync(VECTORS_PATH, JSON.stringify(file, null, 2) + '\n');
console.log(`wrote ${VECTORS_PATH.pathname} (${vectors.length} vectors)`);
