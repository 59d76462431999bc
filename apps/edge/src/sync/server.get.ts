import { parseProblem, problemMessage } from './upload.failure.ts';
import { UploadError } from './uploader.ts';

/** How a request to the server names itself when it fails. */
export interface ServerGet {
  /** The path as messages show it: "/keys/upload". */
  path: string;
  /** What could not be done when no answer comes: "the server key could not be fetched". */
  unreachable: string;
  /** Error statuses the caller reads as answers (a 404 that means "not there"). */
  accept?: readonly number[];
}

/**
 * A request to the server besides tus (a GET unless `init.method` says otherwise), its answer or
 * an UploadError: `network` when none comes, `http` with the server's problem when it answers an
 * error status. The one place the REST clients read a problem body.
 */
export async function getFromServer(
  doFetch: typeof fetch,
  url: string,
  init: RequestInit,
  { path, unreachable, accept = [] }: ServerGet,
): Promise<Response> {
  let res: Response;
  try {
    res = await doFetch(url, init);
  } catch (cause) {
    throw new UploadError({ kind: 'network', message: unreachable }, { cause });
  }
  if (res.ok || accept.includes(res.status)) return res;
  const method = init.method ?? 'GET';
  const problem = parseProblem(await res.text().catch(() => ''));
  throw new UploadError({
    kind: 'http',
    method,
    status: res.status,
    ...(problem ? { problem } : {}),
    message: problemMessage(problem, `${method} ${path} answered ${res.status}`),
  });
}
