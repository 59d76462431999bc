import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The TCP address a listening server is bound to. */
export function addressOf(server: Server): AddressInfo {
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('the server is not listening on TCP');
  return addr;
}
