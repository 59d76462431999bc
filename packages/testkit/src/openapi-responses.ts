import { existsSync, readFileSync } from 'node:fs';

/**
 * Reads the report of the sync server's OpenAPI response check (OPENAPI_RESPONSE_CHECK: JSON lines
 * of `seen` operations and `violation`s, written by every server a test suite starts) and says
 * what fails the suite: responses that differ from the document and, when asked, documented
 * operations that no test ever got a successful answer from.
 */

interface Seen {
  kind: 'seen';
  operation: string;
  status: number;
}
interface Violation {
  kind: 'violation';
  operation: string;
  request: string;
  status: number;
  problems: string[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

function readRecords(file: string): Array<Seen | Violation> {
  if (!existsSync(file)) return [];
  const out: Array<Seen | Violation> = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r: unknown = JSON.parse(line);
    if (!isRecord(r) || typeof r.operation !== 'string' || typeof r.status !== 'number') continue;
    if (r.kind === 'seen') out.push({ kind: 'seen', operation: r.operation, status: r.status });
    if (r.kind === 'violation')
      out.push({
        kind: 'violation',
        operation: r.operation,
        request: typeof r.request === 'string' ? r.request : '',
        status: r.status,
        problems: Array.isArray(r.problems) ? r.problems.map(String) : [],
      });
  }
  return out;
}

/** Every operation (`GET /xrays/{id}`) an OpenAPI document declares. */
export function documentedOperations(document: unknown): string[] {
  const paths = isRecord(document) && isRecord(document.paths) ? document.paths : {};
  const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
  return Object.entries(paths).flatMap(([path, item]) =>
    isRecord(item) ? methods.filter((m) => isRecord(item[m])).map((m) => `${m.toUpperCase()} ${path}`) : [],
  );
}

export interface ResponseCheckSummary {
  /** One line per distinct difference: operation, status, what differs, how often, one request. */
  violations: string[];
  /** Documented operations never answered with a 2xx (only when `document` was given). */
  unexercised: string[];
  /** Operation → the statuses it was answered with. */
  seen: Map<string, Set<number>>;
}

export function summarizeResponseCheck(file: string, document?: unknown): ResponseCheckSummary {
  const seen = new Map<string, Set<number>>();
  const distinct = new Map<string, { count: number; request: string }>();
  for (const r of readRecords(file)) {
    if (r.kind === 'seen') {
      const statuses = seen.get(r.operation) ?? new Set<number>();
      statuses.add(r.status);
      seen.set(r.operation, statuses);
      continue;
    }
    const key = `${r.operation} → ${r.status}: ${r.problems.join('; ')}`;
    const d = distinct.get(key);
    distinct.set(key, { count: (d?.count ?? 0) + 1, request: d?.request ?? r.request });
  }
  const violations = [...distinct].map(([key, d]) => `${key} (${d.count}×, e.g. ${d.request})`).sort();
  const unexercised =
    document === undefined
      ? []
      : documentedOperations(document).filter((op) => ![...(seen.get(op) ?? [])].some((s) => s >= 200 && s < 300));
  return { violations, unexercised, seen };
}

/** The failure message for a suite's teardown, or undefined when the server kept to its document. */
export function responseCheckFailure(summary: ResponseCheckSummary, where: string): string | undefined {
  const parts: string[] = [];
  if (summary.violations.length)
    parts.push(
      `${summary.violations.length} kind(s) of response differ from openapi.json (${where}):\n` +
        summary.violations.map((v) => `  - ${v}`).join('\n'),
    );
  if (summary.unexercised.length)
    parts.push(
      `${summary.unexercised.length} documented operation(s) never answered 2xx in this run:\n` +
        summary.unexercised.map((v) => `  - ${v}`).join('\n'),
    );
  return parts.length ? parts.join('\n') : undefined;
}
