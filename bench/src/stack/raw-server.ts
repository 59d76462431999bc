import path from 'node:path';
import { startChild, type Child } from '../lib/child.ts';

const entry = path.join(import.meta.dirname, 'raw-server.process.ts');

export interface RawServer {
  url: string;
  child: Child;
  stop(): Promise<void>;
}

/** The bare Node HTTP server (the raw limit) as its own process, like the servers it is compared with. */
export async function startRawServer(dir: string, logFile: string): Promise<RawServer> {
  const child = startChild('raw-server', process.execPath, ['--import', 'tsx', entry, dir], {
    env: process.env,
    logFile,
  });
  const port = (await child.waitForLine(/^listening (\d+)$/))[1];
  return { url: `http://127.0.0.1:${port}`, child, stop: () => child.stop() };
}
