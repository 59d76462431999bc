import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, '../../..');

export interface NodeBinary {
  path: string;
  version: string;
  major: number;
}

async function nodeBinary(file: string): Promise<NodeBinary> {
  const version = (await run(file, ['--version'])).stdout.trim().replace(/^v/, '');
  return { path: file, version, major: Number(version.split('.')[0]) };
}

/** The Node.js this benchmark runs on (the machine's). */
export const thisNode = (): Promise<NodeBinary> => nodeBinary(process.execPath);

/** The pinned LTS (scripts/node-lts.mjs, fetched into node_modules/.cache/node-lts/ when missing): what the image runs. */
export async function ltsNode(): Promise<NodeBinary> {
  const file = (await run(process.execPath, [path.join(repoRoot, 'scripts/node-lts.mjs')])).stdout.trim();
  return nodeBinary(file);
}

/** This process's node and the pinned LTS, the LTS last: one of each release (one when they are the same). */
export async function nodesToCompare(): Promise<NodeBinary[]> {
  const found = [await thisNode(), await ltsNode()];
  return found.filter((n, i) => found.findIndex((m) => m.version === n.version) === i);
}
