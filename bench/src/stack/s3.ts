/**
 * The S3 storage the bench may use (S3_ENDPOINT, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY set,
 * e.g. Swift s3api as TESTING.md starts it): the server settings for it, a bucket of the run's own
 * (created by the server), or undefined when it is not configured.
 */
export function s3ServerEnv(bucket = `xray-bench-${Date.now().toString(36)}`): Record<string, string> | undefined {
  const { S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY } = process.env;
  if (!S3_ENDPOINT || !S3_ACCESS_KEY_ID || !S3_SECRET_ACCESS_KEY) return undefined;
  return {
    S3_ENDPOINT,
    S3_ACCESS_KEY_ID,
    S3_SECRET_ACCESS_KEY,
    S3_REGION: process.env.S3_REGION ?? 'us-east-1',
    S3_FORCE_PATH_STYLE: process.env.S3_FORCE_PATH_STYLE ?? 'true',
    S3_CHECKSUMS_WHEN_REQUIRED: process.env.S3_CHECKSUMS_WHEN_REQUIRED ?? 'true',
    S3_BUCKET: bucket,
    S3_CREATE_BUCKET: 'true',
  };
}
