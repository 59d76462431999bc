import { Dexie, type EntityTable, type Transaction } from 'dexie';
import type {
  BlobRecord,
  CaptureRecord,
  KeyRecord,
  EngineStatus,
  ServerKeySetting,
  SettingRecord,
  UploadUrlRecord,
} from './edge.records.ts';

export const DEFAULT_DB_NAME = 'xray-edge';
/** How long a synced capture's ciphertext stays on the device unless configured otherwise. */
export const DEFAULT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Every schema version the app has shipped, oldest first. A version is never edited once
 * released: a change is a new entry (with an upgrade when data must move), so a device that
 * skipped releases upgrades step by step. Indexed fields carry no patient data.
 */
export const SCHEMA_VERSIONS: readonly {
  version: number;
  stores: Record<string, string>;
  upgrade?: (tx: Transaction) => Promise<void>;
}[] = [
  {
    version: 1,
    stores: {
      captures: '&id, status, priority, createdAt',
      blobs: '&captureId',
      uploads: '&key, fingerprint',
      keys: '&id',
      settings: '&key',
    },
  },
  {
    // v2: synced captures get the time their ciphertext may be purged, decided when they
    // synced, so the purge is one index range instead of a scan.
    version: 2,
    stores: { captures: '&id, status, priority, createdAt, purgeAfter' },
    upgrade: async (tx) => {
      await tx
        .table<CaptureRecord, string>('captures')
        .where('status')
        .equals('synced')
        .modify((c) => {
          if (c.purgedAt === undefined && c.purgeAfter === undefined)
            c.purgeAfter = (c.syncedAt ?? c.updatedAt) + DEFAULT_RETENTION_MS;
        });
    },
  },
];

export class EdgeDb extends Dexie {
  captures!: EntityTable<CaptureRecord, 'id'>;
  blobs!: EntityTable<BlobRecord, 'captureId'>;
  uploads!: EntityTable<UploadUrlRecord, 'key'>;
  keys!: EntityTable<KeyRecord, 'id'>;
  settings!: EntityTable<SettingRecord, 'key'>;

  constructor(name = DEFAULT_DB_NAME, opts: { indexedDB?: IDBFactory; IDBKeyRange?: typeof IDBKeyRange } = {}) {
    // Strict durability: a capture is on disk (not only in the OS cache) when its transaction
    // completes, so `capture()` resolving means a power cut cannot lose it.
    super(name, { chromeTransactionDurability: 'strict', ...opts });
    for (const v of SCHEMA_VERSIONS) {
      const version = this.version(v.version).stores(v.stores);
      if (v.upgrade) version.upgrade(v.upgrade);
    }
  }

  async serverKey(): Promise<ServerKeySetting | undefined> {
    const row = await this.settings.get('serverKey');
    return row?.key === 'serverKey' ? row.value : undefined;
  }

  async engineStatus(): Promise<EngineStatus | undefined> {
    const row = await this.settings.get('engine');
    return row?.key === 'engine' ? row.value : undefined;
  }
}
