import path from 'node:path';
import { startChild, type Child } from '../lib/child.ts';
import type { NodeBinary } from './node.ts';

const entry = path.join(import.meta.dirname, 'raw-server.process.ts');
const floorEntry = path.join(import.meta.dirname, 'express-floor.process.ts');
const benchDir = path.resolve(import.meta.dirname, '../..');

export interface RawServer {
  url: string;
  child: Child;
  stop(): Promise<void>;
}

/**
 * The bare Node HTTP server (the raw and verified limits) as its own process, like the servers it
 * is compared with, on the Node.js the sync server runs on (same OpenSSL, same HTTP parser).
 */
export async function startRawServer(dir: string, logFile: string, node: NodeBinary): Promise<RawServer> {
  const child = startChild('raw-server', node.path, ['--import', 'tsx', entry, dir], {
    env: process.env,
    logFile,
    cwd: benchDir,
  });
  const port = (await child.waitForLine(/^listening (\d+)$/))[1];
  return { url: `http://127.0.0.1:${port}`, child, stop: () => child.stop() };
}

/**
 * Express 5 answering a read's JSON and nothing else (express-floor.process.ts): the framework's
 * own cost per request, on the same Node.js, as a process of its own.
 */
export async function startExpressFloor(logFile: string, node: NodeBinary): Promise<RawServer> {
  const child = startChild('express-floor', node.path, ['--import', 'tsx', floorEntry], {
    env: process.env,
    logFile,
    cwd: benchDir,
  });
  const port = (await child.waitForLine(/^listening (\d+)$/))[1];
  return { url: `http://127.0.0.1:${port}`, child, stop: () => child.stop() };
}
