/**
 * The raw limit: a bare Node HTTP server with nothing but the bytes. PUT /files/<name> streams
 * the body to a file and fsyncs it before answering (the durability the sync server and Orthanc
 * give an upload); GET /files/<name> streams a file back, with a single `Range`.
 *   node raw-server.process.ts <dir>      prints "listening <port>"
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

const dir = process.argv[2];
if (!dir) throw new Error('usage: raw-server.process.ts <dir>');

const fileOf = (url: string | undefined): string | undefined => {
  const m = /^\/files\/([A-Za-z0-9._-]+)$/.exec(url ?? '');
  return m?.[1] ? path.join(dir, m[1]) : undefined;
};

const server = createServer((req, res) => {
  const file = fileOf(req.url);
  if (!file) return void res.writeHead(404).end();
  (async () => {
    if (req.method === 'PUT') {
      const out = createWriteStream(file);
      await pipeline(req, out);
      const fh = await open(file, 'r');
      await fh.sync().finally(() => fh.close());
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ size: out.bytesWritten }));
      return;
    }
    if (req.method === 'GET') {
      const { size } = await stat(file);
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      const start = m ? Number(m[1]) : 0;
      const end = m ? Math.min(Number(m[2]), size - 1) : size - 1;
      res.writeHead(m ? 206 : 200, {
        'content-type': 'application/octet-stream',
        'content-length': String(end - start + 1),
        ...(m ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
      });
      await pipeline(createReadStream(file, { start, end }), res);
      return;
    }
    res.writeHead(405).end();
  })().catch((err: unknown) => {
    if (!res.headersSent) res.writeHead(500).end(String(err));
    else res.destroy();
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  console.log(`listening ${typeof addr === 'object' && addr ? addr.port : '?'}`);
});
process.once('SIGTERM', () => process.exit(0));
