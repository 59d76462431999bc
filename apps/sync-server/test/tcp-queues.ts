import { readFile } from 'node:fs/promises';

/**
 * Bytes of a loopback connection the kernel holds between the two processes: what the server wrote
 * and the client has not acknowledged (the server's send queue) plus what arrived and the client
 * has not read (its receive queue), from /proc/net/tcp. Linux grows these buffers with the
 * connection's rate, up to net.ipv4.tcp_rmem's maximum (32 MiB on some machines), so tests that
 * bound what a server reads ahead of a paused client measure them instead of assuming them.
 */
export async function heldByKernel(clientPort: number): Promise<number> {
  let held = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (await readFile(table, 'utf8')).split('\n').slice(1)) {
      const [, local = '', remote = '', , queues = ''] = line.trim().split(/\s+/);
      const port = (address: string) => parseInt(address.split(':')[1] ?? '', 16);
      const [tx = 0, rx = 0] = queues.split(':').map((h) => parseInt(h, 16));
      if (port(local) === clientPort) held += rx;
      else if (port(remote) === clientPort) held += tx;
    }
  }
  return held;
}
