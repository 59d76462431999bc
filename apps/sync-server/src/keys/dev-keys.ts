import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ensurePrivateDir, ensurePrivateFile, PRIVATE_FILE_MODE } from '../storage/private-files.ts';
import type { KeySettings } from './key.service.ts';

const DevKeysSchema = z.object({
  keks: z.array(z.object({ id: z.string(), key: z.string() })).min(1),
  currentKekId: z.string(),
  uploadPrivateKeyPem: z.string(),
});

/** Development keys carry this prefix in their ids; production refuses them. */
export const DEV_KEY_PREFIX = 'dev-';

/**
 * Keys for the zero-configuration start: generated once into DATA_DIR/keys so X-rays stay
 * readable across restarts. Never used when NODE_ENV=production (config refuses to start).
 */
export async function loadOrCreateDevKeys(dataDir: string): Promise<KeySettings> {
  const file = path.join(dataDir, 'keys', 'dev-keys.json');
  const read = async () => DevKeysSchema.parse(JSON.parse(await readFile(file, 'utf8')));
  // The server's user alone: the directory 0700 and the file 0600, also when they were made before.
  await ensurePrivateDir(path.dirname(file));
  try {
    const keys = await read();
    await ensurePrivateFile(file);
    return keys;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
  // An id of its own per generated key: a database that outlived its DATA_DIR/keys (an external
  // DATABASE_URL) records another key's check value under an old id, and would refuse this one.
  const id = `${DEV_KEY_PREFIX}kek-${randomBytes(4).toString('hex')}`;
  const settings: KeySettings = {
    keks: [{ id, key: randomBytes(32).toString('base64') }],
    currentKekId: id,
    uploadPrivateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
  try {
    // 'wx': when two instances start at once, the first key set wins and both use it.
    await writeFile(file, JSON.stringify(settings, null, 2), { mode: PRIVATE_FILE_MODE, flag: 'wx' });
    return settings;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return read();
    throw err;
  }
}
