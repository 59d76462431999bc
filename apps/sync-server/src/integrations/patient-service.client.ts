import { LRUCache } from 'lru-cache';
import pRetry, { AbortError } from 'p-retry';
import { z } from 'zod';
import type { Logger } from '../observability/logger.ts';
import {
  ConsultationSummarySchema,
  PatientDirectoryUnavailable,
  PatientSummarySchema,
  type ConsultationSummary,
  type LookupOptions,
  type PatientDirectory,
  type PatientSummary,
} from './patient-directory.ts';

export interface PatientServiceClientOptions {
  /** Base URL; paths are appended to it (`{url}/patients/{id}`). */
  url: string;
  timeoutMs: number;
  retries: number;
  /** Found patients and consultations are kept this long; 0 turns the cache off. */
  cacheTtlMs: number;
  log: Logger;
  /** First retry delay; doubles each time (p-retry adds jitter). */
  retryMinDelayMs?: number;
}

type Found = { kind: 'patient'; value: PatientSummary } | { kind: 'consultation'; value: ConsultationSummary };

/**
 * The Patient Service over HTTP: `GET {url}/patients/{id}`, `GET {url}/consultations/{id}`.
 * Each request has a timeout; failures other than 404 are retried with exponential backoff and
 * jitter; found answers are cached briefly. Not-found answers are never cached: a patient
 * registered a moment ago must be found on the next look.
 */
export class PatientServiceClient implements PatientDirectory {
  private readonly cache: LRUCache<string, Found> | undefined;
  private readonly base: string;

  constructor(private readonly opts: PatientServiceClientOptions) {
    this.base = opts.url.replace(/\/+$/, '');
    this.cache = opts.cacheTtlMs > 0 ? new LRUCache({ max: 5000, ttl: opts.cacheTtlMs }) : undefined;
  }

  async getPatient(id: string, opts?: LookupOptions): Promise<PatientSummary | null> {
    const key = `patients/${id}`;
    const cached = this.cache?.get(key);
    if (cached?.kind === 'patient') return cached.value;
    const value = await this.fetchJson(key, PatientSummarySchema, opts);
    if (value) this.cache?.set(key, { kind: 'patient', value });
    return value;
  }

  async getConsultation(id: string, opts?: LookupOptions): Promise<ConsultationSummary | null> {
    const key = `consultations/${id}`;
    const cached = this.cache?.get(key);
    if (cached?.kind === 'consultation') return cached.value;
    const value = await this.fetchJson(key, ConsultationSummarySchema, opts);
    if (value) this.cache?.set(key, { kind: 'consultation', value });
    return value;
  }

  /**
   * `GET {url}/patients` and `GET {url}/consultations?status=open`: the lists the edge keeps
   * offline. Never cached here (the edge keeps its own copy and refreshes it).
   */
  async roster(opts?: LookupOptions): Promise<{ patients: PatientSummary[]; consultations: ConsultationSummary[] }> {
    const [patients, consultations] = await Promise.all([
      this.fetchJson('patients', z.object({ items: z.array(PatientSummarySchema) }), opts),
      this.fetchJson('consultations?status=open', z.object({ items: z.array(ConsultationSummarySchema) }), opts),
    ]);
    if (!patients || !consultations) throw new PatientDirectoryUnavailable('The Patient Service has no lists to read.');
    return { patients: patients.items, consultations: consultations.items.filter((c) => c.status !== 'closed') };
  }

  private async fetchJson<S extends z.ZodType>(
    path: string,
    schema: S,
    opts: LookupOptions = {},
  ): Promise<z.infer<S> | null> {
    const [collection = '', id] = path.split('/');
    // `patients/{id}` looks one up; a bare collection (with its query) lists.
    const url =
      id === undefined ? `${this.base}/${collection}` : `${this.base}/${collection}/${encodeURIComponent(id)}`;
    // What errors and logs name: a patient's or consultation's id is the patient's data, not the outage's.
    const shown = id === undefined ? url : `${this.base}/${collection}/{id}`;
    const timeoutMs = opts.timeoutMs ?? this.opts.timeoutMs;
    const attempt = async (): Promise<z.infer<S> | null> => {
      let res: Response;
      try {
        res = await fetch(url, { headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
      } catch (err) {
        throw new PatientDirectoryUnavailable(`Patient Service unreachable at ${shown}: ${messageOf(err)}`, {
          cause: err,
        });
      }
      if (res.status === 404) {
        await res.body?.cancel();
        return null;
      }
      if (!res.ok) {
        await res.body?.cancel();
        const err = new PatientDirectoryUnavailable(`Patient Service answered ${res.status} for ${shown}`);
        // 5xx, 408 and 429 may pass; any other 4xx is our request or our credentials: retrying will not help.
        if (res.status >= 500 || res.status === 408 || res.status === 429) throw err;
        throw new AbortError(err);
      }
      const parsed = schema.safeParse(await res.json().catch(() => undefined));
      if (!parsed.success)
        throw new AbortError(new PatientDirectoryUnavailable(`Patient Service sent an unreadable answer for ${shown}`));
      return parsed.data;
    };
    try {
      return await pRetry(attempt, {
        retries: opts.retries ?? this.opts.retries,
        minTimeout: this.opts.retryMinDelayMs ?? 200,
        factor: 2,
        randomize: true,
        onFailedAttempt: ({ error, attemptNumber, retriesLeft }) =>
          this.opts.log.debug({ err: error, url: shown, attemptNumber, retriesLeft }, 'Patient Service request failed'),
      });
    } catch (err) {
      if (err instanceof PatientDirectoryUnavailable) throw err;
      throw new PatientDirectoryUnavailable(`Patient Service request failed for ${shown}: ${messageOf(err)}`, {
        cause: err,
      });
    }
  }
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
