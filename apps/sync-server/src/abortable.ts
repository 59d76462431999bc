/**
 * `p`, or the signal's reason as soon as it aborts (at once if it already has): for work that
 * takes no signal itself (a connection being opened, a store's answer), so a stop need not wait
 * for it. `p` goes on; the caller disposes of what it brings late.
 */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
