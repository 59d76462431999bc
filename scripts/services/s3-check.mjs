#!/usr/bin/env node
// Smoke test for an S3-compatible store: proves that a real S3 client can talk to it,
// including the multipart calls @tus/s3-store relies on (ListParts above all).
//
//   node scripts/services/s3-check.mjs [bucket]
//
// Connection settings come from the same env a test uses (S3_ENDPOINT, S3_REGION,
// S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY); the defaults match scripts/services/swift.sh.
// Exits 0 when every step passed, 1 otherwise (the failing step is named on stderr), and 3
// when the S3 SDK is not installed, which no amount of waiting mends.
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';

// The SDK is a dependency of the sync server, not of the workspace root: resolve it from there
// so this script needs no install of its own.
// The SDK warns on Node < 22 about its future support policy; that is noise in a health check.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const requireFromServer = createRequire(new URL('../../apps/sync-server/package.json', import.meta.url));
let sdk;
try {
  sdk = requireFromServer('@aws-sdk/client-s3');
} catch (err) {
  console.error(`s3-check: cannot load @aws-sdk/client-s3 from apps/sync-server (${err.code ?? err.message});`);
  console.error('s3-check: run `node scripts/pnpm.mjs install` first.');
  process.exit(3);
}
const {
  S3Client,
  CreateBucketCommand,
  DeleteBucketCommand,
  PutObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  DeleteObjectCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  ListPartsCommand,
  CompleteMultipartUploadCommand,
  AbortMultipartUploadCommand,
} = sdk;

const bucket = process.argv[2] ?? 's3-check';
const endpoint = process.env.S3_ENDPOINT ?? `http://127.0.0.1:${process.env.SWIFT_PORT ?? 8091}`;

const s3 = new S3Client({
  endpoint,
  region: process.env.S3_REGION ?? 'us-east-1',
  credentials: {
    accessKeyId: process.env.S3_ACCESS_KEY_ID ?? 'test:tester',
    secretAccessKey: process.env.S3_SECRET_ACCESS_KEY ?? 'testing',
  },
  forcePathStyle: true,
  // Without these the SDK sends aws-chunked bodies with trailing checksums, which Swift's
  // s3api (and several other S3-compatible stores) reject.
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
  // The caller polls while the servers come up: fail fast instead of retrying or hanging.
  maxAttempts: 1,
  requestHandler: { connectionTimeout: 3000, requestTimeout: 15000 },
});

let step = 'start';
async function run(name, fn) {
  step = name;
  return fn();
}

const key = `s3-check-${process.pid}-${Date.now()}`;
let uploadId;

try {
  await run('CreateBucket', async () => {
    try {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    } catch (err) {
      // A bucket left behind by an earlier, interrupted check is fine.
      if (err.name !== 'BucketAlreadyOwnedByYou' && err.name !== 'BucketAlreadyExists') throw err;
    }
  });

  // Small object round trip.
  const small = randomBytes(1024);
  await run('PutObject', () => s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${key}.small`, Body: small })));
  await run('GetObject', async () => {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${key}.small` }));
    const body = Buffer.from(await res.Body.transformToByteArray());
    if (!body.equals(small)) throw new Error(`read back ${body.length} bytes that differ from what was written`);
  });
  await run('DeleteObject', () => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${key}.small` })));

  // Multipart upload, the way @tus/s3-store drives it: it calls ListParts on every PATCH
  // to find out where to resume.
  const part = randomBytes(5 * 1024 * 1024); // S3's minimum size for a non-last part
  const mpKey = `${key}.multipart`;
  uploadId = await run('CreateMultipartUpload', async () => {
    const res = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: mpKey }));
    return res.UploadId;
  });
  const etag = await run('UploadPart', async () => {
    const res = await s3.send(
      new UploadPartCommand({ Bucket: bucket, Key: mpKey, UploadId: uploadId, PartNumber: 1, Body: part }),
    );
    return res.ETag;
  });
  await run('ListParts', async () => {
    const res = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: mpKey, UploadId: uploadId }));
    const parts = res.Parts ?? [];
    if (parts.length !== 1 || parts[0].PartNumber !== 1 || parts[0].Size !== part.length) {
      throw new Error(`unexpected parts: ${JSON.stringify(parts)}`);
    }
  });
  await run('CompleteMultipartUpload', () =>
    s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: mpKey,
        UploadId: uploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: etag }] },
      }),
    ),
  );
  uploadId = undefined;
  await run('HeadObject', async () => {
    const res = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: mpKey }));
    if (res.ContentLength !== part.length) throw new Error(`size ${res.ContentLength}, expected ${part.length}`);
  });
  await run('DeleteObject (multipart)', () => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: mpKey })));

  // Leave nothing behind. Swift may still hold the multipart segments briefly, so a
  // "bucket not empty" here is not a failure of the store.
  await run('DeleteBucket', async () => {
    try {
      await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    } catch (err) {
      if (err.name !== 'BucketNotEmpty') throw err;
    }
  });

  console.error(`s3-check: ok (${endpoint}, bucket ${bucket})`);
} catch (err) {
  const status = err.$metadata?.httpStatusCode;
  console.error(
    `s3-check: ${step} failed against ${endpoint}: ${err.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}: ${err.message}`,
  );
  if (uploadId) {
    await s3
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: `${key}.multipart`, UploadId: uploadId }))
      .catch(() => {});
  }
  process.exitCode = 1;
} finally {
  s3.destroy();
}
