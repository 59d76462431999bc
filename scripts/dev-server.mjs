#!/usr/bin/env node
// The last step of `npm start`: the sync server in development (embedded PostgreSQL and storage
// under .data/, the edge app from apps/edge/dist), started by node rather than `pnpm run dev`.
//
// Ctrl-C in a terminal signals every process of the foreground group. Through pnpm, that took
// down the shell pnpm runs scripts in (reported as "Command failed with signal SIGINT") and the
// embedded PostgreSQL under a server that was still draining. Here the server runs in a process
// group of its own, so only this launcher hears the terminal: it asks the server to stop once, and
// ends as the server does, 0 after a clean shutdown. The server stops PostgreSQL last. `npm start`
// runs it with `exec`: a shell left waiting for it would hear Ctrl-C too, end by the signal once
// the launcher has, and npm would then exit 130 after a clean stop.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { preferredNode } from './node-lts.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const app = path.join(root, 'apps', 'sync-server');
// Relative paths are the caller's (npm runs scripts in the root; INIT_CWD is where it was typed), not
// the server's working directory (apps/sync-server).
const fromCaller = (p) => path.resolve(process.env.INIT_CWD || process.cwd(), p);
// On the pinned Node.js LTS when this node is older and `npm test` has fetched it (scripts/node-lts.mjs).
const server = spawn(preferredNode(), ['--import', 'tsx', path.join(app, 'src', 'main.ts')], {
  cwd: app,
  detached: true,
  // Not the terminal's input: a process outside the foreground group may not read it.
  stdio: ['ignore', 'inherit', 'inherit'],
  env: {
    ...process.env,
    DATA_DIR: process.env.DATA_DIR ? fromCaller(process.env.DATA_DIR) : path.join(root, '.data'),
    EDGE_APP_DIR: process.env.EDGE_APP_DIR
      ? fromCaller(process.env.EDGE_APP_DIR)
      : path.join(root, 'apps', 'edge', 'dist'),
  },
});
// A closed terminal (SIGHUP) stops the server as gracefully as Ctrl-C does.
const asked = { SIGINT: 'SIGINT', SIGTERM: 'SIGTERM', SIGHUP: 'SIGTERM' };
for (const [heard, sent] of Object.entries(asked))
  process.on(heard, () => {
    if (server.exitCode === null && server.signalCode === null) server.kill(sent);
  });
server.on('error', (err) => {
  console.error(`could not start the sync server: ${err.message}`);
  process.exit(1);
});
server.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
