import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { BuildMiddleware, MetadataBearer } from '@smithy/types';

type Stack = S3Client['middlewareStack'];

const hasHeadersAndBody = (r: unknown): r is { headers: Record<string, string>; body: unknown } =>
  typeof r === 'object' && r !== null && 'headers' in r && 'body' in r;

/**
 * Swift s3api (and some other S3-compatible stores) insist on Content-MD5 for multi-object
 * delete, which SDK v3 no longer sends when checksums are "when required". Add it back.
 */
export function addContentMd5ForDeleteObjects(client: { middlewareStack: Stack }): void {
  const middleware: BuildMiddleware<object, MetadataBearer> = (next, context) => async (args) => {
    const request: unknown = args.request;
    if (
      context.commandName === 'DeleteObjectsCommand' &&
      hasHeadersAndBody(request) &&
      typeof request.body === 'string'
    ) {
      request.headers['content-md5'] = createHash('md5').update(request.body).digest('base64');
    }
    return next(args);
  };
  client.middlewareStack.add(middleware, { step: 'build', name: 'swiftContentMd5', override: true });
}
