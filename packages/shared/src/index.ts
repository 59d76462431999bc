export * from './schemas/index.ts';
export * from './media/index.ts';
export * from './crypto/index.ts';
export * from './backoff.ts';
export * from './identity/compare.ts';
