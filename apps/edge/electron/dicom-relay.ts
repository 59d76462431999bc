import { randomUUID } from 'node:crypto';
import type { ReceivedInstance } from './dicom-receiver.ts';

/** What the main process sends the window for one instance (IPC: structured clone, memory only). */
export interface InstanceMessage {
  requestId: string;
  bytes: Uint8Array;
  sopInstanceUid: string;
  callingAeTitle: string;
}

/**
 * Between the DICOM receiver (main process) and the app's capture queue (renderer): each instance
 * goes to the window, and the C-STORE answer waits for the window's "queued" (or its failure),
 * at most `timeoutMs`. While no app handles instances (not loaded yet, reloading) an instance is
 * refused at once, so the detector keeps it and can send it again.
 */
export function createInstanceRelay(opts: { send(message: InstanceMessage): void; timeoutMs?: number }) {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const pending = new Map<
    string,
    { resolve(): void; reject(err: Error): void; timer: ReturnType<typeof setTimeout> }
  >();
  let ready = false;

  const finish = (requestId: string, err?: Error): void => {
    const waiting = pending.get(requestId);
    if (!waiting) return;
    pending.delete(requestId);
    clearTimeout(waiting.timer);
    if (err) waiting.reject(err);
    else waiting.resolve();
  };

  return {
    /** The app says it handles instances (true), or the window is (re)loading (false). */
    setReady(value: boolean): void {
      ready = value;
      if (!value)
        for (const id of [...pending.keys()]) finish(id, new Error('the app was reloaded before it queued the image'));
    },
    /** Resolves once the app has queued the instance. */
    deliver(instance: ReceivedInstance): Promise<void> {
      if (!ready) return Promise.reject(new Error('the app is not open'));
      const requestId = randomUUID();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => finish(requestId, new Error('the app did not queue the image in time')),
          timeoutMs,
        );
        pending.set(requestId, { resolve, reject, timer });
        opts.send({
          requestId,
          bytes: instance.bytes,
          sopInstanceUid: instance.sopInstanceUid,
          callingAeTitle: instance.callingAeTitle,
        });
      });
    },
    /** The app's answer (IPC: checked field by field). */
    settle(answer: unknown): void {
      if (typeof answer !== 'object' || answer === null) return;
      const requestId: unknown = Reflect.get(answer, 'requestId');
      const ok: unknown = Reflect.get(answer, 'ok');
      const message: unknown = Reflect.get(answer, 'message');
      if (typeof requestId !== 'string') return;
      finish(requestId, ok === true ? undefined : new Error(typeof message === 'string' ? message : 'not queued'));
    },
    get waiting(): number {
      return pending.size;
    },
  };
}
