#!/usr/bin/env -S node --import tsx
// Operator commands for the sync server: `xray-admin <command> [options]`.
import { ignoredS3Notice, loadConfig } from '../config/config.ts';
import type { Command, CommandIO } from './command.ts';
import { EXIT } from './command.ts';
import { retryDeadCommand } from './retry-dead.command.ts';
import { checkCommand } from './check.command.ts';
import { dicomIndexCommand } from './dicom-index.command.ts';
import { identityCheckCommand } from './identity-check.command.ts';
import { recoverCommand } from './recover.command.ts';
import { rotateKekCommand } from './rotate-kek.command.ts';
import { verifyAuditCommand } from './verify-audit.command.ts';

/** Every subcommand; add new ones (rotate-kek, …) here. */
const COMMANDS: Command[] = [
  verifyAuditCommand,
  rotateKekCommand,
  retryDeadCommand,
  checkCommand,
  recoverCommand,
  dicomIndexCommand,
  identityCheckCommand,
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: xray-admin <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `xray-admin <command> --help` for its options.',
  ].join('\n');
}

/**
 * S3 settings without S3_BUCKET (production refuses them), named as the server does at start: a
 * command (check, recover after a restore) would otherwise work on the local disk unnoticed.
 */
function warnIgnoredS3Settings(io: CommandIO): void {
  let storage;
  try {
    storage = loadConfig(io.env).storage;
  } catch {
    return; // the command reports the configuration it cannot run with
  }
  const notice = ignoredS3Notice(storage);
  if (notice && storage.kind === 'fs') io.err(`${notice}: this command works on local disk (${storage.dir})`);
}

export async function runCli(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    (name === undefined ? io.err : io.out)(usage());
    return name === undefined ? EXIT.failed : EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.err(`Unknown command "${name}".\n\n${usage()}`);
    return EXIT.failed;
  }
  if (!rest.includes('--help') && !rest.includes('-h')) warnIgnoredS3Settings(io);
  try {
    return await command.run(rest, io);
  } catch (err) {
    // Bad options (parseArgs) and unreachable databases end here: say what, not a stack trace.
    io.err(`xray-admin ${name}: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.failed;
  }
}

process.exitCode = await runCli(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
});
