// The render worker's entry when the server runs from its TypeScript sources (tsx, vitest): a worker
// starts without the main thread's loader, so it registers tsx before loading the worker module.
// A compiled server starts its bundled render.worker.js instead (render.pool.ts).
import { register } from 'tsx/esm/api';

register();
await import('./render.worker.ts');
