/**
 * The KEY=value lines a service script prints on stdout (scripts/services/swift.sh,
 * scripts/services/rabbitmq.sh) as an object, values trimmed; any other line is skipped.
 */
export function parseEnvLines(stdout: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m?.[1] && m[2] !== undefined) vars[m[1]] = m[2].trim();
  }
  return vars;
}
