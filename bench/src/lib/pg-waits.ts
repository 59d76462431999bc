import pg from 'pg';
import type { Window } from './cpu-profile.ts';
import { monotonicUs } from '../figures/context.ts';

interface Sample {
  tUs: number;
  states: string[];
}

/**
 * Samples what the sync server's PostgreSQL connections are doing (pg_stat_activity) every
 * 10 ms: running, waiting on a lock (the audit chain's advisory lock shows as Lock/advisory),
 * idle in a transaction (waiting for the Node process), or idle in the pool.
 */
export async function startPgWaitSampler(
  url: string,
): Promise<{ stop(): Promise<void>; summary(windows: readonly Window[]): string }> {
  const client = new pg.Client({ connectionString: url, application_name: 'xray-bench-sampler' });
  await client.connect();
  const samples: Sample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await client.query<{ state: string | null; wt: string | null; we: string | null }>(
        `SELECT state, wait_event_type AS wt, wait_event AS we FROM pg_stat_activity WHERE application_name = 'xray-sync-server'`,
      );
      samples.push({
        tUs: monotonicUs(),
        states: rows.map((r) =>
          r.state === 'active' && r.wt ? `active, waiting on ${r.wt}/${r.we}` : (r.state ?? 'unknown'),
        ),
      });
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await client.end();
    },
    summary(windows) {
      const inside = samples.filter((s) => windows.some((w) => s.tUs >= w.startUs && s.tUs <= w.endUs));
      const totals = new Map<string, number>();
      for (const s of inside) for (const st of s.states) totals.set(st, (totals.get(st) ?? 0) + 1);
      const n = inside.length || 1;
      return [
        `server connections by state, mean over ${inside.length} samples of pg_stat_activity:`,
        ...[...totals].sort((a, b) => b[1] - a[1]).map(([st, c]) => `  ${(c / n).toFixed(2).padStart(6)}  ${st}`),
      ].join('\n');
    },
  };
}
