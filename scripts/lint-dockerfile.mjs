#!/usr/bin/env node
// Lints a Dockerfile without a container engine:
//   1. dockerfile-utils (the validator behind the VS Code Docker extension, from the npm registry):
//      syntax, flags, durations, ports, instruction arguments; every finding fails, warnings too.
//   2. This project's image policy, each rule with its reason.
// Usage: node scripts/lint-dockerfile.mjs [apps/sync-server/Dockerfile]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { NODE_LTS } from './node-lts.mjs';

const require = createRequire(import.meta.url);
const { validate, ValidationSeverity } = require('dockerfile-utils');

const root = new URL('..', import.meta.url);
const file = process.argv[2] ?? 'apps/sync-server/Dockerfile';
const text = readFileSync(new URL(file, root), 'utf8');
const problems = [];

// 1. dockerfile-utils, with every configurable check raised to an error.
const strict = Object.fromEntries(
  [
    'deprecatedMaintainer',
    'directiveCasing',
    'emptyContinuationLine',
    'instructionCasing',
    'instructionCmdMultiple',
    'instructionEntrypointMultiple',
    'instructionHealthcheckMultiple',
    'instructionJSONInSingleQuotes',
    'instructionWorkdirRelative',
  ].map((k) => [k, ValidationSeverity.ERROR]),
);
for (const d of validate(text, strict))
  problems.push(`line ${d.range.start.line + 1}: ${d.message} (dockerfile-utils)`);

// 2. Policy. Instructions with continuation lines joined, comments dropped.
const instructions = [];
let pending = '';
let startLine = 0;
text.split('\n').forEach((raw, i) => {
  const line = raw.trim();
  if (!pending && (line === '' || line.startsWith('#'))) return;
  if (!pending) startLine = i + 1;
  if (line.startsWith('#')) return;
  if (line.endsWith('\\')) {
    pending += `${line.slice(0, -1)} `;
    return;
  }
  const full = pending + line;
  pending = '';
  const m = /^(\w+)\s+([\s\S]*)$/.exec(full);
  if (m) instructions.push({ op: m[1].toUpperCase(), args: m[2].trim(), line: startLine });
});
const fail = (at, message) => problems.push(`line ${at?.line ?? '?'}: ${message}`);

const args = new Map(
  instructions
    .filter((i) => i.op === 'ARG' && i.args.includes('='))
    .map((i) => {
      const [k, ...v] = i.args.split('=');
      return [k, v.join('=')];
    }),
);
const stages = [];
for (const i of instructions) {
  if (i.op === 'FROM') stages.push({ from: i, body: [] });
  else stages.at(-1)?.body.push(i);
}
if (stages.length < 2)
  fail(stages[0]?.from, 'multi-stage build expected: dependencies are built apart from the runtime');
const stageNames = new Set(stages.map((s) => /\bAS\s+(\S+)/i.exec(s.from.args)?.[1]).filter(Boolean));

for (const { from } of stages) {
  const image = from.args.replace(/^--\S+\s+/, '').split(/\s+/)[0];
  if (stageNames.has(image)) continue;
  const resolved = image.replace(/\$\{?(\w+)\}?/g, (_, name) => args.get(name) ?? '');
  if (!/[:@]/.test(resolved) || /:latest$/.test(resolved))
    fail(from, `base image "${resolved}" must be pinned to a version (a moving tag changes the image under a rebuild)`);
}

const final = stages.at(-1);
const inFinal = (op) => final?.body.filter((i) => i.op === op) ?? [];
const users = inFinal('USER');
const lastUser = users.at(-1)?.args.split(':')[0];
if (!lastUser || lastUser === 'root' || lastUser === '0')
  fail(
    users.at(-1) ?? final?.from,
    'the runtime stage must end as a non-root USER (a compromised process gets no root)',
  );
if (!inFinal('HEALTHCHECK').some((i) => i.args.includes('/healthz')))
  fail(final?.from, 'the runtime stage needs a HEALTHCHECK on /healthz');
if (!inFinal('ENV').some((i) => /\bNODE_ENV=production\b/.test(i.args)))
  fail(
    final?.from,
    'the runtime stage must set NODE_ENV=production (the config guard refuses development defaults there)',
  );

for (const i of instructions) {
  if (i.op === 'ADD') fail(i, 'use COPY, not ADD (no remote fetches or archive unpacking by surprise)');
  if (i.op === 'ENV' || i.op === 'ARG') {
    const secret = /\b(KEK|UPLOAD_PRIVATE_KEY|WEBHOOK_SECRET|\w*PASSWORD|\w*SECRET\w*|DATABASE_URL|AMQP_URL)\s*=/.exec(
      i.args,
    );
    if (secret) fail(i, `${secret[1]} must come from the environment at run time, never from the image`);
    if (/\bTLS_TERMINATED_BY_PROXY\s*=/.test(i.args))
      fail(
        i,
        'TLS_TERMINATED_BY_PROXY is for the deployment to assert (it knows whether a proxy is in front), not the image',
      );
  }
  if (i.op === 'COPY' && !/--from=/.test(i.args)) {
    const sources = i.args
      .split(/\s+/)
      .filter((a) => !a.startsWith('--'))
      .slice(0, -1);
    const bad = sources.find((s) => /(^|\/)(\.data|keys|certs|secrets)(\/|$)|\.(pem|key|env)$/.test(s));
    if (bad) fail(i, `COPY ${bad}: keys, certificates and local data never go into the image`);
  }
}

// The base image's Node.js is the release the tests run on (scripts/node-lts.mjs pins it).
const nodeImage = args.get('NODE_IMAGE');
if (nodeImage !== undefined && !new RegExp(`^node:${NODE_LTS.version.replaceAll('.', '\\.')}-`).test(nodeImage))
  problems.push(`ARG NODE_IMAGE=${nodeImage} is not Node.js ${NODE_LTS.version} (scripts/node-lts.mjs)`);

const pnpmArg = args.get('PNPM_VERSION');
const { packageManager } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const pinned = /^pnpm@(.+)$/.exec(packageManager ?? '')?.[1];
if (pnpmArg !== undefined && pnpmArg !== pinned)
  problems.push(`ARG PNPM_VERSION=${pnpmArg} differs from package.json packageManager (pnpm@${pinned})`);

if (problems.length) {
  console.error(`${file}:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`${file}: OK (dockerfile-utils, strict; image policy: ${stages.length} stages, non-root, healthcheck)`);
