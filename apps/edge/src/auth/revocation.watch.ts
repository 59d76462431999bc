import { parseProblem } from '../sync/upload.failure.ts';

/**
 * Wraps the fetch the app's REST clients (patient list, sent-link checks, enrollment) use so that
 * a `401 device_revoked` from any of them starts the remote wipe, as it does from the sync
 * engine: a revoked tablet with nothing left to send still wipes at its next roster refresh.
 * The response is passed on unchanged.
 */
export function watchRevocation(
  onRevoked: (reason: string) => void,
  doFetch: typeof fetch = (i, init) => fetch(i, init),
): typeof fetch {
  return async (input, init) => {
    const res = await doFetch(input, init);
    if (res.status === 401) {
      const problem = parseProblem(
        await res
          .clone()
          .text()
          .catch(() => undefined),
      );
      if (problem?.code === 'device_revoked')
        onRevoked(problem.detail ?? 'This device has been revoked by an administrator.');
    }
    return res;
  };
}
