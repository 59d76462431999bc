/**
 * The HTTP floor of a metadata read (issue 22): Express 5, the sync server's framework, set up as
 * the sync server sets it (no x-powered-by, no generated ETag), answering `GET /xrays/:id` with
 * the JSON the sync server answers and doing nothing else: no token, no database, no audit, no
 * log line. What one read costs on this machine before any of the X-ray Service's own work.
 *   node express-floor.process.ts      prints "listening <port>"
 * `PUT /body` with a JSON body sets what every read answers.
 */
import express from 'express';

let body: unknown = {};
const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.put('/body', express.json({ limit: '1mb' }), (req, res) => {
  body = req.body as unknown;
  res.status(204).end();
});
app.get('/xrays/:id', (_req, res) => {
  res.json(body);
});
const server = app.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  console.log(`listening ${typeof addr === 'object' && addr ? addr.port : '?'}`);
});
server.keepAliveTimeout = 65_000;
process.once('SIGTERM', () => process.exit(0));
