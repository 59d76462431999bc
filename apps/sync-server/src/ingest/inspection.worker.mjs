// The entry of InspectionThread's worker. Node 20 does not load a .ts worker entry, not even with
// --import tsx inherited from the server, nor does vitest: so tsx is registered here, in the
// worker, before the TypeScript module is imported.
import { register } from 'tsx/esm/api';

register();
await import('./inspection.worker.ts');
