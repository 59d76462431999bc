import { Readable } from 'node:stream';
import { decryptBytes, encryptBytes, generateDek } from '@xray/shared';
import type { KeyService } from '../keys/key.service.ts';
import type { Logger } from '../observability/logger.ts';
import type { ObjectStore } from '../storage/index.ts';
import type { RenderedType } from './render.params.ts';

/**
 * Rendered images kept in object storage, encrypted at rest like the X-rays themselves: each under
 * a data key of its own (XRE1), wrapped by the key service and bound to the X-ray and to the
 * cache object's key, so an entry copied under another X-ray or other parameters does not open.
 *
 * Each entry is one self-contained object, `renders/<xray id>/<render key>`:
 *
 *   "XRR1" | u16be n | n bytes of JSON {"v":1,"kekId":…,"dek":<base64 bound wrap>} | XRE1 ciphertext
 *
 * Why the wrapped key rides in the object rather than in a table: an entry is derived data that
 * can be made again at any time, so it needs none of a row's guarantees; one PUT writes it whole
 * (no row without its object or object without its row after a crash, nothing to reconcile), two
 * requests racing to fill the same entry each write a consistent object (the last one wins), and
 * the read path costs no database round trip. Whatever does not open (a KEK retired since, a
 * damaged object) is a miss: rendered again and overwritten. Removing an X-ray's renders is one
 * listing of its prefix (removeRenders), which also finds an entry written by a render that
 * finished while the X-ray was being deleted (see render.service.ts).
 */

export const RENDERS_PREFIX = 'renders/';
const MAGIC = Buffer.from('XRR1', 'latin1');
/** An entry larger than this is not read back (a rendered image is far smaller): a miss. */
const MAX_ENTRY_BYTES = 64 * 1024 * 1024;

export const rendersPrefixOf = (xrayId: string): string => `${RENDERS_PREFIX}${xrayId}/`;
export const renderObjectKeyOf = (xrayId: string, renderKey: string): string =>
  `${rendersPrefixOf(xrayId)}${renderKey}`;

export interface CachedRender {
  type: RenderedType;
  bytes: Buffer;
}

export interface RenderCacheDeps {
  store: ObjectStore;
  keys: KeyService;
  log: Logger;
}

async function readEntry(store: ObjectStore, key: string): Promise<Buffer | null> {
  const size = (await store.stat(key))?.size;
  if (size === undefined || size > MAX_ENTRY_BYTES) return null;
  const chunks: Buffer[] = [];
  try {
    for await (const c of await store.get(key)) chunks.push(Buffer.from(c as Uint8Array));
  } catch (err) {
    if ((err as Error).name === 'ObjectNotFoundError') return null;
    throw err;
  }
  return Buffer.concat(chunks);
}

export function createRenderCache(deps: RenderCacheDeps) {
  return {
    /** The cached render, or null (none, or one that does not open: it is rendered again). */
    async get(xrayId: string, renderKey: string, type: RenderedType): Promise<CachedRender | null> {
      const key = renderObjectKeyOf(xrayId, renderKey);
      let stored: Buffer | null;
      try {
        stored = await readEntry(deps.store, key);
      } catch (err) {
        deps.log.warn({ err, key }, 'rendered image cache unreadable; rendering again');
        return null;
      }
      if (!stored) return null;
      try {
        if (!stored.subarray(0, 4).equals(MAGIC)) throw new Error('not a render cache entry');
        const n = stored.readUInt16BE(4);
        const envelope = JSON.parse(stored.subarray(6, 6 + n).toString('utf8')) as {
          v?: unknown;
          kekId?: unknown;
          dek?: unknown;
        };
        if (envelope.v !== 1 || typeof envelope.kekId !== 'string' || typeof envelope.dek !== 'string')
          throw new Error('not a render cache envelope');
        const dek = await deps.keys.unwrapDek(new Uint8Array(Buffer.from(envelope.dek, 'base64')), envelope.kekId, {
          xrayId,
          objectKey: key,
        });
        const plain = await decryptBytes(dek, new Uint8Array(stored.subarray(6 + n)));
        return { type, bytes: Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength) };
      } catch (err) {
        deps.log.warn({ err, key }, 'rendered image cache entry does not open; rendering again');
        return null;
      }
    },

    /** Stores a render (replacing any entry under the same key). Returns the object key written. */
    async put(xrayId: string, renderKey: string, bytes: Uint8Array): Promise<string> {
      const key = renderObjectKeyOf(xrayId, renderKey);
      const dek = await generateDek();
      const { wrapped, kekId } = await deps.keys.wrapDek(dek, { xrayId, objectKey: key });
      const ciphertext = await encryptBytes(dek, bytes);
      const envelope = Buffer.from(JSON.stringify({ v: 1, kekId, dek: Buffer.from(wrapped).toString('base64') }));
      const length = Buffer.alloc(2);
      length.writeUInt16BE(envelope.length);
      await deps.store.put(key, Readable.from([Buffer.concat([MAGIC, length, envelope, ciphertext])]));
      return key;
    },

    /** Removes every cached render of an X-ray (its prefix listed: rows or no rows, nothing stays). */
    async removeAll(xrayId: string): Promise<void> {
      await removeRenders(deps.store, xrayId);
    },
  };
}
export type RenderCache = ReturnType<typeof createRenderCache>;

/** Removes every cached render of `xrayId`. */
export async function removeRenders(store: ObjectStore, xrayId: string): Promise<void> {
  for (const key of await store.list(rendersPrefixOf(xrayId))) await store.delete(key);
}

/**
 * Every cached render in the store, by the X-ray id its key names (`renders/<xray id>/…`): what
 * `xray-admin check` and `recover` set against the X-ray rows.
 */
export async function listRenders(store: ObjectStore): Promise<Map<string, string[]>> {
  const byXray = new Map<string, string[]>();
  for (const key of await store.list(RENDERS_PREFIX)) {
    const rest = key.slice(RENDERS_PREFIX.length);
    const slash = rest.indexOf('/');
    const xrayId = slash < 0 ? rest : rest.slice(0, slash);
    const keys = byXray.get(xrayId);
    if (keys) keys.push(key);
    else byXray.set(xrayId, [key]);
  }
  return byXray;
}
