import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { DomainError } from '../errors.ts';

const METADATA_MAX_BYTES = 64 * 1024;

export interface XrayMultipart {
  /** The parsed `metadata` JSON, not yet validated. */
  metadata: unknown;
  /** The `file` part, streaming. */
  file: Readable;
}

const bad = (message: string, field?: string) =>
  new DomainError('validation_failed', message, field ? [{ field, message }] : undefined);

/**
 * Reads `multipart/form-data` with a `metadata` part (JSON) followed by a `file` part, and
 * resolves as soon as the file starts: the caller streams it. Metadata must come first so
 * a bad request is refused before any image byte is stored.
 */
export function readXrayMultipart(req: IncomingMessage, maxUploadBytes: number): Promise<XrayMultipart> {
  return new Promise((resolve, reject) => {
    const type = req.headers['content-type'] ?? '';
    if (!type.toLowerCase().startsWith('multipart/form-data')) {
      reject(
        new DomainError(
          'unsupported_media_type',
          'Send multipart/form-data with a `metadata` part (JSON) then a `file` part.',
        ),
      );
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxUploadBytes + METADATA_MAX_BYTES + 16 * 1024) {
      reject(new DomainError('payload_too_large', `X-rays may be at most ${maxUploadBytes} bytes (MAX_UPLOAD_BYTES).`));
      return;
    }
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { files: 1, fields: 1, fieldSize: METADATA_MAX_BYTES } });
    } catch (err) {
      reject(
        new DomainError('bad_request', 'The multipart body cannot be parsed (missing boundary?).', undefined, {
          cause: err,
        }),
      );
      return;
    }
    let metadata: unknown;
    let file: Readable | undefined;
    let settled = false;
    const fail = (err: Error) => {
      if (file) file.destroy(err);
      if (!settled) {
        settled = true;
        reject(err);
      }
      req.unpipe(parser);
    };

    parser.on('field', (name, value, info) => {
      if (name !== 'metadata') return fail(bad(`Unexpected part "${name}"; expected "metadata" then "file".`, name));
      if (info.valueTruncated) return fail(bad(`metadata must be at most ${METADATA_MAX_BYTES} bytes.`, 'metadata'));
      try {
        metadata = JSON.parse(value);
      } catch {
        fail(bad('metadata is not valid JSON.', 'metadata'));
      }
    });
    parser.on('file', (name, stream) => {
      if (name !== 'file') {
        stream.resume();
        return fail(bad(`Unexpected file part "${name}"; the image goes in "file".`, name));
      }
      if (metadata === undefined) {
        stream.resume();
        return fail(bad('The metadata part must come before the file part.', 'metadata'));
      }
      file = stream;
      // Errors reach whoever consumes the file; this keeps one nobody reads yet from crashing the process.
      file.on('error', () => undefined);
      settled = true;
      resolve({ metadata, file });
    });
    parser.on('filesLimit', () => fail(bad('Only one file per request.', 'file')));
    parser.on('fieldsLimit', () => fail(bad('Only one metadata part per request.', 'metadata')));
    parser.on('error', (err: Error) =>
      fail(new DomainError('client_closed', `The upload ended early: ${err.message}`, undefined, { cause: err })),
    );
    parser.on('close', () => {
      if (!settled)
        fail(
          bad(
            metadata === undefined ? 'The metadata part is missing.' : 'The file part is missing.',
            metadata === undefined ? 'metadata' : 'file',
          ),
        );
    });
    // A client that vanishes mid-upload must fail the stream, or the store waits forever.
    req.on('close', () => {
      if (!req.complete)
        fail(
          new DomainError(
            'client_closed',
            'The client disconnected before the upload was complete; nothing was stored.',
          ),
        );
    });
    req.pipe(parser);
  });
}
