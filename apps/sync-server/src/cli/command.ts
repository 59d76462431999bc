import { parseArgs } from 'node:util';

/** Where a command writes; tests and the entry point pass the process's streams. */
export interface CommandIO {
  out(line: string): void;
  err(line: string): void;
  env: Record<string, string | undefined>;
}

/** One `xray-admin` subcommand. `run` returns the exit code. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(args: string[], io: CommandIO): Promise<number>;
}

/** Exit codes: 0 fine, 1 the check found a problem, 2 the command could not run (usage, connection). */
export const EXIT = { ok: 0, problem: 1, failed: 2 } as const;

/**
 * The arguments of a command that takes no option but --help: true when it printed its usage (exit 0).
 * Anything else is refused by parseArgs (xray-admin reports it, exit 2).
 */
export function printedHelp(args: string[], io: CommandIO, usage: string): boolean {
  const { values } = parseArgs({ args, options: { help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) io.out(usage);
  return values.help === true;
}
