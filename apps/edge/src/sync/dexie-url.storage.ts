import type { PreviousUpload, UrlStorage } from 'tus-js-client';
import type { EdgeDb } from '../db/edge.db.ts';
import type { UploadUrlRecord } from '../db/edge.records.ts';

/**
 * tus-js-client's `urlStorage` in IndexedDB: where each unfinished upload lives on the server, so
 * an upload resumes after a reload or a restart. The Upload-Metadata tus hands us is not kept:
 * it holds patient data, and resuming needs only the URL.
 */
export class DexieUrlStorage implements UrlStorage {
  readonly #db: EdgeDb;

  constructor(db: EdgeDb) {
    this.#db = db;
  }

  async findAllUploads(): Promise<PreviousUpload[]> {
    return (await this.#db.uploads.toArray()).map(toPrevious);
  }

  async findUploadsByFingerprint(fingerprint: string): Promise<PreviousUpload[]> {
    const rows = await this.#db.uploads.where('fingerprint').equals(fingerprint).toArray();
    // Newest first: tus resumes the first one offered.
    return rows.sort((a, b) => b.creationTime.localeCompare(a.creationTime)).map(toPrevious);
  }

  async removeUpload(urlStorageKey: string): Promise<void> {
    await this.#db.uploads.delete(urlStorageKey);
  }

  async addUpload(fingerprint: string, upload: PreviousUpload): Promise<string> {
    const key = `${fingerprint}::${crypto.randomUUID()}`;
    await this.#db.uploads.put({
      key,
      fingerprint,
      uploadUrl: upload.uploadUrl,
      size: upload.size,
      creationTime: upload.creationTime,
    });
    return key;
  }
}

function toPrevious(row: UploadUrlRecord): PreviousUpload {
  return {
    urlStorageKey: row.key,
    uploadUrl: row.uploadUrl,
    size: row.size,
    creationTime: row.creationTime,
    metadata: {},
    parallelUploadUrls: null,
  };
}
