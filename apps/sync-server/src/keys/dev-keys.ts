import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { KeySettings } from './key.service.ts';

/** Development keys carry this prefix in their ids; production refuses them. */
export const DEV_KEY_PREFIX = 'dev-';

/**
 * Keys for the zero-configuration start: generated once into DATA_DIR/keys so X-rays stay
 * readable across restarts. Never used when NODE_ENV=production (config refuses to start).
 */
export async function loadOrCreateDevKeys(dataDir: string): Promise<KeySettings> {
  const file = path.join(dataDir, 'keys', 'dev-keys.json');
  try {
    return JSON.parse(await readFile(file, 'utf8')) as KeySettings;
  } catch {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
    const id = `${DEV_KEY_PREFIX}kek-1`;
    const settings: KeySettings = {
      keks: [{ id, key: randomBytes(32).toString('base64') }],
      currentKekId: id,
      uploadPrivateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await writeFile(file, JSON.stringify(settings, null, 2), { mode: 0o600 });
    return settings;
  }
}
