export * from './xray.ts';
export * from './problem.ts';
