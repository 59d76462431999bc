import type { Readable } from 'node:stream';

/**
 * A download read to its end or its failure (a response cut off mid-body), with what arrived
 * either way: tests of what a client receives when the server stops sending.
 */
export async function readDownload(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ failed: boolean; status: number; type: string; body: Buffer }> {
  const chunks: Buffer[] = [];
  let status = 0;
  let type = '';
  try {
    const res = await fetch(url, { headers });
    status = res.status;
    type = res.headers.get('content-type') ?? '';
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { failed: false, status, type, body: Buffer.concat(chunks) };
      chunks.push(Buffer.from(value));
    }
  } catch {
    return { failed: true, status, type, body: Buffer.concat(chunks) };
  }
}

/** A stream read to its end or its error, with what it emitted either way. */
export async function drainStream(stream: Readable): Promise<{ emitted: Buffer; error: unknown }> {
  const out: Buffer[] = [];
  try {
    for await (const c of stream) out.push(c as Buffer);
    return { emitted: Buffer.concat(out), error: undefined };
  } catch (error) {
    return { emitted: Buffer.concat(out), error };
  }
}
