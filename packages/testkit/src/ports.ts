import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Below this, ports are often taken by well-known services. */
const LOWEST = 10_000;

/**
 * The kernel's ephemeral range: outgoing connections take their local port from it. A port
 * picked there can be taken by any connect() before the child server binds it (the suspected
 * cause of one e2e run whose embedded PostgreSQL did not start), so free ports are picked below it.
 */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low && high && low > LOWEST + 1000) return [low, high];
  } catch {
    // Not Linux: fall through to the usual default.
  }
  return [32_768, 60_999];
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A port on 127.0.0.1 that nothing listens on, for a server a test is about to start.
 * Random, so parallel test workers rarely pick the same one, and outside the ephemeral range.
 */
export async function freePort(): Promise<number> {
  const [low] = ephemeralRange();
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (low - LOWEST));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found between ${LOWEST} and ${low - 1}`);
}
