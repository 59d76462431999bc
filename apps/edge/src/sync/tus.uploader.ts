import { UPLOAD_HEADERS } from '@xray/shared';
import { DetailedError, Upload, type HttpRequest, type HttpResponse, type UrlStorage } from 'tus-js-client';
import { bearerAuthorizer, type ServerAuthorizer } from '../auth/server.authorizer.ts';
import { uploadFingerprint } from './upload-fingerprint.ts';
import { parseProblem, parseRetryAfter, problemMessage, type UploadFailure } from './upload.failure.ts';
import { UploadAbortedError, UploadError, type UploadResult, type Uploader } from './uploader.ts';

export interface TusUploaderOptions {
  /** The tus creation endpoint, e.g. https://sync.example/uploads. */
  endpoint: string;
  urlStorage: UrlStorage;
  /** The headers that authenticate each request (a fresh DPoP proof per request); bearer by default. */
  authorize?: ServerAuthorizer;
}

/**
 * The real uploader: tus-js-client over the stored XRE1 Blob (sliced per chunk, never read whole).
 * tus-js-client's own retries are off: the sync engine owns every retry decision, so one policy
 * covers all failures and the next attempt time is visible and survives a reload. Each attempt
 * resumes from the URL kept in `urlStorage` (a HEAD tells the server's offset).
 */
export function createTusUploader(opts: TusUploaderOptions): Uploader {
  return {
    upload(request) {
      return new Promise<UploadResult>((resolve, reject) => {
        const seen: UploadResult = { xrayId: null, sha256: null };
        let settled = false;
        const settle = (fn: () => void): void => {
          if (settled) return;
          settled = true;
          fn();
        };

        const upload = new Upload(request.ciphertext, {
          endpoint: opts.endpoint,
          chunkSize: request.chunkSize,
          metadata: request.metadata,
          retryDelays: null,
          urlStorage: opts.urlStorage,
          fingerprint: async () => uploadFingerprint(request.captureId),
          storeFingerprintForResuming: true,
          removeFingerprintOnSuccess: true,
          onBeforeRequest: async (req: HttpRequest) => {
            const token = await request.token();
            if (!token) return;
            // Every request of the upload (POST, HEAD, each PATCH) gets its own proof: method and URL differ.
            const headers = await (opts.authorize ?? bearerAuthorizer)(token, req.getMethod(), req.getURL());
            for (const [name, value] of Object.entries(headers)) req.setHeader(name, value);
          },
          onAfterResponse: (req: HttpRequest, res: HttpResponse) => {
            const xrayId = res.getHeader(UPLOAD_HEADERS.xrayId);
            const sha256 = res.getHeader(UPLOAD_HEADERS.xraySha256);
            if (xrayId) seen.xrayId = xrayId;
            if (sha256) seen.sha256 = sha256;
            // Re-creating an upload for an X-ray the server already stored answers 200 with that
            // X-ray (our earlier final response was lost): done, nothing to send.
            if (req.getMethod() === 'POST' && res.getStatus() === 200 && xrayId) {
              settle(() => resolve({ ...seen }));
              void upload.abort();
            }
          },
          onProgress: (sent, total) => request.onProgress(sent, total),
          onChunkComplete: (_chunk, accepted, total) => {
            request.onChunkAccepted(accepted, total);
            // Between chunks (called before tus-js-client sends the next PATCH): pausing here
            // leaves nothing half sent; the next attempt's HEAD resumes from this offset.
            if (accepted < total && request.shouldPause?.()) {
              settle(() => reject(new UploadAbortedError('paused at a chunk boundary')));
              void upload.abort();
            }
          },
          onSuccess: () => settle(() => resolve({ ...seen })),
          onError: (err) => settle(() => reject(new UploadError(failureOf(err), { cause: err }))),
        });

        const onAbort = (): void => {
          settle(() => reject(new UploadAbortedError('upload stopped')));
          void upload.abort();
        };
        if (request.signal.aborted) return onAbort();
        request.signal.addEventListener('abort', onAbort, { once: true });

        upload
          .findPreviousUploads()
          .then((previous) => {
            if (settled) return;
            const [latest] = previous;
            if (latest) upload.resumeFromPreviousUpload(latest);
            upload.start();
          })
          .catch((err: unknown) =>
            settle(() =>
              reject(new UploadError({ kind: 'local', message: `upload state unreadable: ${String(err)}` })),
            ),
          );
      });
    },
  };
}

function failureOf(err: Error): UploadFailure {
  if (err instanceof DetailedError) {
    const res = err.originalResponse;
    const method = err.originalRequest?.getMethod() ?? 'PATCH';
    if (!res || res.getStatus() === 0) {
      return { kind: 'network', message: `no answer from the server (${err.causingError?.message ?? err.message})` };
    }
    const status = res.getStatus();
    const problem = parseProblem(res.getBody());
    const retryAfterMs = parseRetryAfter(res.getHeader('Retry-After'), Date.now());
    return {
      kind: 'http',
      method,
      status,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      ...(problem ? { problem } : {}),
      message: problemMessage(problem, `the server answered ${status}`),
    };
  }
  return { kind: 'local', message: err.message };
}
