import * as tus from 'tus-js-client';

export const MiB = 1024 * 1024;

export interface TusRun {
  upload: tus.Upload;
  done: Promise<{ url: string; xrayId: string | null }>;
}

/** Drives an upload the way the edge app does: tus-js-client, fixed chunks, metadata in Upload-Metadata. */
export function startTus(opts: {
  endpoint: string;
  file: Buffer;
  metadata: Record<string, string>;
  chunkSize?: number;
  uploadUrl?: string;
  headers?: Record<string, string>;
  retryDelays?: number[] | null;
  onChunkComplete?: (sent: number, accepted: number, total: number) => void;
  onProgress?: (sent: number, total: number) => void;
}): TusRun {
  let resolveDone!: (v: { url: string; xrayId: string | null }) => void;
  let rejectDone!: (e: Error) => void;
  const done = new Promise<{ url: string; xrayId: string | null }>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  let xrayId: string | null = null;
  const upload = new tus.Upload(opts.file, {
    endpoint: opts.endpoint,
    ...(opts.uploadUrl ? { uploadUrl: opts.uploadUrl } : {}),
    chunkSize: opts.chunkSize ?? 5 * MiB,
    metadata: opts.metadata,
    headers: opts.headers ?? {},
    retryDelays: opts.retryDelays === undefined ? [0, 200, 500, 1000] : opts.retryDelays,
    storeFingerprintForResuming: false,
    onAfterResponse: (_req, res) => {
      xrayId = res.getHeader('X-Xray-Id') ?? xrayId;
    },
    onChunkComplete: opts.onChunkComplete,
    onProgress: opts.onProgress,
    onSuccess: () => resolveDone({ url: upload.url ?? '', xrayId }),
    onError: (err) => rejectDone(err),
  });
  upload.start();
  return { upload, done };
}

/** Reads one counter from the server's Prometheus metrics. */
export async function metricValue(baseUrl: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ')[1]) : 0;
}
