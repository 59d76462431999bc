import type { Command } from '../src/cli/command.ts';

/** An xray-admin command run in this process, as xray-admin runs it: its exit code and what it printed. */
export async function runCommand(
  command: Command,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await command.run(args, { out: (l) => out.push(l), err: (l) => err.push(l), env });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}
