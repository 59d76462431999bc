import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createBucket,
  s3Env,
  sharedKeys,
  startDatabase,
  syncInstance,
  type SoakDatabase,
  type SyncInstance,
} from '../src/stack.ts';

export interface UploadStack {
  dir: string;
  db: SoakDatabase;
  server: SyncInstance;
}

// The set-up shared by the upload integration tests: a temporary directory, a database, and a
// started sync server (auth disabled, S3 on its own bucket, 5 MiB parts). `extraEnv` is added last.
export async function startUploadStack(dirPrefix: string, extraEnv: Record<string, string> = {}): Promise<UploadStack> {
  const dir = await mkdtemp(path.join(tmpdir(), dirPrefix));
  await chmod(dir, 0o755);
  const s3 = await s3Env();
  let db: SoakDatabase | undefined;
  try {
    db = await startDatabase(path.join(dir, 'postgres'));
    return { dir, db, server: await startServer(db) };
  } catch (err) {
    // A set-up that failed leaves nothing behind (the tests' afterAll never saw these).
    await db?.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  async function startServer(db: SoakDatabase): Promise<SyncInstance> {
    const server = await syncInstance(
      'sync',
      {
        NODE_ENV: 'test',
        LOG_LEVEL: 'info',
        AUTH_DISABLED: 'true',
        DATA_DIR: path.join(dir, 'data'),
        DATABASE_URL: db.url,
        ...s3,
        S3_BUCKET: await createBucket(s3),
        S3_CREATE_BUCKET: 'false',
        S3_CHECKSUMS_WHEN_REQUIRED: 'true',
        S3_PART_SIZE: String(5 * 1024 * 1024),
        ...sharedKeys(),
        ...extraEnv,
      },
      dir,
    );
    await server.start();
    return server;
  }
}
