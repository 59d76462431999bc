export * from './schemas/index.ts';
export * from './media/index.ts';
