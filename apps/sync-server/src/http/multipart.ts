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

/** A `metadata` part sent as a file part (a JSON Blob, as generated clients send it) must say it is JSON. */
const isJsonType = (mimeType: string) => /^application\/([a-z0-9.+-]+\+)?json$/i.test(mimeType.trim());

/**
 * Reads `multipart/form-data` with a `metadata` part (JSON) followed by a `file` part, and
 * resolves as soon as the file starts: the caller streams it. Metadata must come first so
 * a bad request is refused before any image byte is stored. `metadata` is taken as a plain form
 * field or as a part of type `application/json` (with a filename, as a Blob is sent), as the
 * OpenAPI document declares it.
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
      // Two file parts at most: metadata sent as a JSON part, and the image.
      parser = busboy({ headers: req.headers, limits: { files: 2, fields: 1, fieldSize: METADATA_MAX_BYTES } });
    } catch (err) {
      reject(
        new DomainError('bad_request', 'The multipart body cannot be parsed (missing boundary?).', undefined, {
          cause: err,
        }),
      );
      return;
    }
    /** The metadata, once a part has brought it (a JSON part is read asynchronously). */
    let metadata: Promise<unknown> | undefined;
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

    const parseJson = (text: string): unknown => {
      try {
        return JSON.parse(text);
      } catch {
        throw bad('metadata is not valid JSON.', 'metadata');
      }
    };

    parser.on('field', (name, value, info) => {
      if (name !== 'metadata') return fail(bad(`Unexpected part "${name}"; expected "metadata" then "file".`, name));
      if (metadata !== undefined) return fail(bad('Only one metadata part per request.', 'metadata'));
      if (info.valueTruncated) return fail(bad(`metadata must be at most ${METADATA_MAX_BYTES} bytes.`, 'metadata'));
      try {
        metadata = Promise.resolve(parseJson(value));
      } catch (err) {
        fail(err instanceof Error ? err : bad('metadata is not valid JSON.', 'metadata'));
      }
    });
    parser.on('file', (name, stream, info) => {
      if (name === 'metadata') {
        if (metadata !== undefined) {
          stream.resume();
          return fail(bad('Only one metadata part per request.', 'metadata'));
        }
        if (!isJsonType(info.mimeType)) {
          stream.resume();
          return fail(
            bad(`A metadata part must be a form field or of type application/json, not ${info.mimeType}.`, 'metadata'),
          );
        }
        metadata = readJsonPart(stream).then(parseJson);
        // Too long or not JSON: refused at once, whether or not a file part follows.
        metadata.catch((err: unknown) =>
          fail(err instanceof Error ? err : bad('metadata cannot be read.', 'metadata')),
        );
        return;
      }
      if (name !== 'file') {
        stream.resume();
        return fail(bad(`Unexpected file part "${name}"; the image goes in "file".`, name));
      }
      if (file) {
        stream.resume();
        return fail(bad('Only one file per request.', 'file'));
      }
      if (metadata === undefined) {
        stream.resume();
        return fail(bad('The metadata part must come before the file part.', 'metadata'));
      }
      file = stream;
      // Errors reach whoever consumes the file; this keeps one nobody reads yet from crashing the process.
      file.on('error', () => undefined);
      // The file waits (back-pressure) until the metadata is read; the caller gets both or a refusal.
      metadata.then(
        (value) => {
          if (settled) return;
          settled = true;
          resolve({ metadata: value, file: stream });
        },
        (err: unknown) => fail(err instanceof Error ? err : bad('metadata cannot be read.', 'metadata')),
      );
    });
    parser.on('filesLimit', () => fail(bad('Only one file per request.', 'file')));
    parser.on('fieldsLimit', () => fail(bad('Only one metadata part per request.', 'metadata')));
    parser.on('error', (err: Error) =>
      fail(new DomainError('client_closed', `The upload ended early: ${err.message}`, undefined, { cause: err })),
    );
    parser.on('close', () => {
      if (!settled && !file)
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

/** A metadata part sent as a file: read whole, up to the size a metadata field may have. */
async function readJsonPart(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buf.length;
    if (size > METADATA_MAX_BYTES) {
      stream.resume();
      throw bad(`metadata must be at most ${METADATA_MAX_BYTES} bytes.`, 'metadata');
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}
