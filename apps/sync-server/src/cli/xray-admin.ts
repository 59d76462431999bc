#!/usr/bin/env -S node --import tsx
// Operator commands for the sync server: `xray-admin <command> [options]`.
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
