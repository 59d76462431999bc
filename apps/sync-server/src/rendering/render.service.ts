import { LRUCache } from 'lru-cache';
import type { Readable } from 'node:stream';
import type { Pool } from '../db/pool.ts';
import { DomainError, isDomainError } from '../errors.ts';
import type { KeyService } from '../keys/key.service.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { ObjectStore } from '../storage/index.ts';
import { xrayRepository, type XrayRecord } from '../xrays/xray.repository.ts';
import { createRenderCache, rendersPrefixOf } from './render.cache.ts';
import { renderKeyOf, type RenderedType, type RenderParams } from './render.params.ts';
import { renderXrayBytes } from './render.pipeline.ts';
import { RenderPool } from './render.pool.ts';
import { RenderSlots } from './render.slots.ts';

/** Cached renders kept per X-ray, at most (each distinct set of parameters is an entry). */
export const MAX_RENDERS_PER_XRAY = 64;
/** How long a render that was not_renderable is refused again without decoding. */
export const REFUSED_RENDER_TTL_MS = 10 * 60_000;

export interface RenderSettings {
  concurrency: number;
  queueLimit: number;
  maxInputBytes: number;
  maxPixels: number;
}

export interface RenderServiceDeps {
  pool: Pool;
  store: ObjectStore;
  keys: KeyService;
  log: Logger;
  metrics: Metrics;
  settings: RenderSettings;
  /** The X-ray's plaintext, decrypted and checked as a download is (XrayService.openContent). */
  openContent(x: XrayRecord): Promise<Readable>;
}

export interface RenderResult {
  type: RenderedType;
  bytes: Buffer;
  /** Served from the cache: nothing was decoded. */
  cached: boolean;
}

/** The whole plaintext, into one buffer of the size the row records (the stream proves its sha256 at the end). */
async function readWhole(content: Readable, size: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  try {
    for await (const chunk of content) {
      const c = chunk as Buffer;
      if (at + c.length > size) {
        content.destroy();
        throw new DomainError('integrity_failed', 'The stored X-ray is longer than its row says.');
      }
      c.copy(out, at);
      at += c.length;
    }
  } catch (err) {
    if (isDomainError(err)) throw err;
    // A segment that does not authenticate, or a whole plaintext of another sha256 (counted and
    // logged by openContent): nothing of it is rendered.
    throw new DomainError(
      'integrity_failed',
      'The stored X-ray is not the one recorded for it; nothing of it is rendered.',
      undefined,
      {
        cause: err,
      },
    );
  }
  if (at !== size) throw new DomainError('integrity_failed', 'The stored X-ray is shorter than its row says.');
  return out;
}

/**
 * Rendered images of X-rays: from the encrypted cache when it holds one, else decoded (in a bounded
 * number of slots), rendered, cached, served. Identical renders asked for at the same time are
 * decoded once (the later requests wait for the first).
 */
export function createRenderService(deps: RenderServiceDeps) {
  const cache = createRenderCache(deps);
  const slots = new RenderSlots(deps.settings.concurrency, deps.settings.queueLimit);
  const inflight = new Map<string, Promise<RenderResult>>();
  // Renders that cannot succeed (the image does not decode, or has more pixels than allowed),
  // refused again without reading or decoding anything for a while: a viewer retrying one broken
  // image must not keep the render slots from everyone else. Keyed like the in-flight renders: the
  // render key names the content's sha256, so a corrected X-ray is tried afresh.
  const refused = new LRUCache<string, DomainError>({ max: 1_000, ttl: REFUSED_RENDER_TTL_MS });
  const limits = { maxPixels: deps.settings.maxPixels };
  // Decoding off the event loop: one worker per running render.
  const pool = new RenderPool();
  const frames = pool.render.bind(pool);

  /** The render key: a PNG or JPEG X-ray has no window to apply, so the parameter does not split its entries. */
  const keyOf = (x: XrayRecord, p: RenderParams): string =>
    renderKeyOf(x.sha256, x.contentType === 'application/dicom' ? p : { ...p, window: undefined });

  async function renderFresh(x: XrayRecord, p: RenderParams, renderKey: string): Promise<RenderResult> {
    if (x.sizeBytes > deps.settings.maxInputBytes)
      throw new DomainError(
        'not_renderable',
        `This X-ray cannot be rendered: ${x.sizeBytes} bytes is more than the ${deps.settings.maxInputBytes} this server decodes.`,
      );
    const rendered = await slots.run(async () => {
      const bytes = await readWhole(await deps.openContent(x), x.sizeBytes);
      return renderXrayBytes(bytes, x.contentType, p, limits, frames);
    });
    deps.metrics.renders.inc({ outcome: 'decoded' });
    await store(x, renderKey, rendered.bytes);
    return { type: rendered.type, bytes: rendered.bytes, cached: false };
  }

  /**
   * Caches a render. Best effort: a store failing costs a decode next time, never this answer. An
   * X-ray deleted while it was rendered has had its renders removed already (after its delete
   * committed): the entry just written is removed again, so none outlives its X-ray.
   */
  async function store(x: XrayRecord, renderKey: string, bytes: Buffer): Promise<void> {
    let key: string;
    try {
      // The parameters are the client's (any viewport, window, quality): unbounded, one X-ray's
      // entries could fill the store. Past the bound a render is served, not kept.
      if ((await deps.store.list(rendersPrefixOf(x.id))).length >= MAX_RENDERS_PER_XRAY) return;
      key = await cache.put(x.id, renderKey, bytes);
    } catch (err) {
      deps.log.warn({ err, xrayId: x.id }, 'rendered image not cached');
      return;
    }
    const current = await xrayRepository.findById(deps.pool, x.id).catch(() => undefined);
    if (current === null || (current && current.sha256 !== x.sha256)) {
      await deps.store
        .delete(key)
        .catch((err: unknown) => deps.log.error({ err, key }, 'render of a deleted X-ray could not be removed'));
    }
  }

  return {
    /** The X-ray (already authorized) rendered as `p` asks. */
    async render(x: XrayRecord, p: RenderParams): Promise<RenderResult> {
      const renderKey = keyOf(x, p);
      const hit = await cache.get(x.id, renderKey, p.type);
      if (hit) {
        deps.metrics.renders.inc({ outcome: 'cached' });
        return { ...hit, cached: true };
      }
      const flight = `${x.id}/${renderKey}`;
      const known = refused.get(flight);
      if (known) {
        deps.metrics.renders.inc({ outcome: 'refused_again' });
        throw new DomainError(known.code, known.message);
      }
      const running = inflight.get(flight);
      if (running) return running;
      const work = renderFresh(x, p, renderKey)
        .catch((err: unknown) => {
          deps.metrics.renders.inc({ outcome: isDomainError(err) && err.code === 'render_busy' ? 'busy' : 'failed' });
          if (isDomainError(err) && err.code === 'not_renderable') refused.set(flight, err);
          throw err;
        })
        .finally(() => inflight.delete(flight));
      inflight.set(flight, work);
      return work;
    },

    /** Removes every cached render of an X-ray (its DELETE). */
    removeAll: (xrayId: string) => cache.removeAll(xrayId),

    /** Renders running and waiting. */
    load: () => slots.load,

    /** Ends the idle render workers. */
    close: () => pool.close(),
  };
}
export type RenderService = ReturnType<typeof createRenderService>;
