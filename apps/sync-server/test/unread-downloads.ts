import { request, type ClientRequest } from 'node:http';
import { expect } from 'vitest';

/**
 * A GET whose answer has begun (200, so its streaming slot is taken) and that its client then
 * leaves unread; kept in `held` so the test can destroy it (giving the slot back) or clean up.
 */
export const holdUnread = (serverUrl: string, path: string, actor: string, held: ClientRequest[]) =>
  new Promise<ClientRequest>((resolve, reject) => {
    const { hostname, port } = new URL(serverUrl);
    const req = request({ hostname, port, path, headers: { 'X-Test-Actor': actor } }, (res) => {
      res.pause();
      expect(res.statusCode).toBe(200);
      resolve(req);
    });
    req.on('error', reject);
    req.end();
    held.push(req);
  });
