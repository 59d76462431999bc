import { Transform, type Readable } from 'node:stream';
import type { ObjectStore } from '../src/storage/index.ts';

/**
 * Wraps a real store so that writes fail after `afterBytes` bytes, the way a disk filling
 * up or a storage node dropping mid-upload looks to the server. The real store still does
 * the writing, so its own cleanup is what the tests check.
 */
export function failingWrites(afterBytes: number): (store: ObjectStore) => ObjectStore {
  return (store) =>
    Object.assign(Object.create(store) as ObjectStore, {
      put(key: string, body: Readable, signal?: AbortSignal) {
        let seen = 0;
        const breaker = new Transform({
          transform(chunk: Buffer, _enc, done) {
            seen += chunk.length;
            if (seen > afterBytes) done(new Error(`injected storage failure after ${afterBytes} bytes`));
            else done(null, chunk);
          },
        });
        body.on('error', (err) => breaker.destroy(err));
        return store.put(key, body.pipe(breaker), signal);
      },
    });
}
