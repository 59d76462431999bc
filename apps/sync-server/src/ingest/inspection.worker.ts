import { parentPort } from 'node:worker_threads';
import { CiphertextInspection } from './ciphertext-inspection.ts';
import type { FromWorker, Refusal, ToWorker } from './inspection-thread.ts';

/**
 * InspectionThread's worker: a CiphertextInspection per stream, fed strictly in the order the
 * main thread posted. Every push is acknowledged, so the main thread knows how far behind this
 * thread is and can hold back an upload's bytes. After a refusal the stream reads no further;
 * its finish answers with the refusal.
 */
interface Stream {
  inspection: CiphertextInspection | undefined;
  refusal: Refusal | undefined;
}

const port = parentPort!;
const streams = new Map<number, Stream>();
const send = (m: FromWorker) => port.postMessage(m, m.op === 'ack' ? [m.bytes] : []);

const refusalOf = (err: unknown): Refusal => ({
  code: err instanceof Error && 'code' in err ? String(err.code) : 'internal',
  message: err instanceof Error ? err.message : String(err),
});

function finish(stream: number, s: Stream): FromWorker {
  if (!s.inspection) return { op: 'result', stream, refusal: s.refusal! };
  try {
    const content = s.inspection.finish();
    return { op: 'result', stream, content, consumed: s.inspection.consumed };
  } catch (err) {
    return { op: 'result', stream, refusal: refusalOf(err) };
  }
}

port.on('message', (m: ToWorker) => {
  switch (m.op) {
    case 'open': {
      const s: Stream = { inspection: undefined, refusal: undefined };
      try {
        s.inspection = new CiphertextInspection(m.rawKey, m.maxPlaintextBytes);
      } catch (err) {
        s.refusal = refusalOf(err);
      }
      streams.set(m.stream, s);
      return;
    }
    case 'push': {
      const s = streams.get(m.stream);
      if (s?.inspection) {
        try {
          s.inspection.push(new Uint8Array(m.bytes, 0, m.length));
        } catch (err) {
          s.refusal = refusalOf(err);
          s.inspection = undefined;
        }
      }
      // Also for a closed stream (nobody listens): the buffer goes back to be reused.
      send({
        op: 'ack',
        stream: m.stream,
        bytes: m.bytes,
        length: m.length,
        retainedBytes: s?.inspection?.retainedBytes ?? 0,
        refused: !s?.inspection,
      });
      return;
    }
    case 'finish': {
      const s = streams.get(m.stream);
      if (!s) return;
      streams.delete(m.stream);
      send(finish(m.stream, s));
      return;
    }
    case 'close':
      streams.delete(m.stream);
      return;
    case 'pause':
      Atomics.wait(new Int32Array(m.gate), 0, 0);
      return;
  }
});
