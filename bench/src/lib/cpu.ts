import { readdir, readFile } from 'node:fs/promises';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on every Linux build in use). */
const TICKS_PER_S = 100;

async function statOf(pid: string): Promise<{ ppid: number; ticks: number } | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself hold spaces and parentheses.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime + stime, and cutime + cstime: the time of its children that ended and it reaped. A
    // PostgreSQL backend that closes mid-run (a pool's idle connection) moves its time to the
    // postmaster's children's time instead of taking it out of the sum.
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) };
  } catch {
    return undefined; // gone meanwhile
  }
}

/**
 * CPU time (user + system, ms) used so far by these processes and all their descendants, those
 * that ended included, from /proc. Counts work, not wall time, so it is comparable between runs
 * on a machine other jobs share, where requests/s are not, as long as they are not in the tree
 * (tests using the same PostgreSQL server are: run the bench alone). Linux only; elsewhere NaN.
 */
export async function treeCpuMs(roots: readonly number[]): Promise<number> {
  const entries = await readdir('/proc').catch(() => undefined);
  if (!entries) return Number.NaN;
  const stats = new Map<number, { ppid: number; ticks: number }>();
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(async (e) => {
        const s = await statOf(e);
        if (s) stats.set(Number(e), s);
      }),
  );
  const children = new Map<number, number[]>();
  for (const [pid, s] of stats) {
    const siblings = children.get(s.ppid);
    if (siblings) siblings.push(pid);
    else children.set(s.ppid, [pid]);
  }
  let ticks = 0;
  const seen = new Set<number>();
  const visit = (pid: number) => {
    if (seen.has(pid)) return;
    seen.add(pid);
    ticks += stats.get(pid)?.ticks ?? 0;
    for (const c of children.get(pid) ?? []) visit(c);
  };
  roots.forEach(visit);
  return (ticks * 1000) / TICKS_PER_S;
}

/** The parent of a process (for PostgreSQL: a backend's postmaster). */
export async function parentPid(pid: number): Promise<number | undefined> {
  return (await statOf(String(pid)))?.ppid;
}
