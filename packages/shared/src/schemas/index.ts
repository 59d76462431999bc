export * from './xray.ts';
export * from './problem.ts';
export * from './audit.ts';
export * from './roles.ts';
export * from './events.ts';
export * from './edge-config.ts';
export * from './upload.ts';
export * from './input-rules.ts';
