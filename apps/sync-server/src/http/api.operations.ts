import { dicomwebOperations } from '../dicomweb/dicomweb.operations.ts';
import { uploadOperations } from '../uploads/tus.operations.ts';
import { apiDocumentOperations } from './routes/api-document.routes.ts';
import { auditOperations } from './routes/audit.routes.ts';
import { changeOperations } from './routes/changes.routes.ts';
import { deviceOperations } from './routes/devices.routes.ts';
import { edgeAppOperations } from './routes/edge-app.routes.ts';
import { healthOperations } from './routes/health.routes.ts';
import { keyOperations } from './routes/keys.routes.ts';
import { outboxOperations } from './routes/outbox.routes.ts';
import { rosterOperations } from './routes/roster.routes.ts';
import { xrayOperations } from './routes/xrays.operations.ts';
import { allowedMethodsFrom, type Operation } from './route-table.ts';

/** Every operation of the API, in the document's order: what the app mounts and the document shows. */
export const API_OPERATIONS: readonly Operation[] = [
  xrayOperations,
  changeOperations,
  uploadOperations,
  keyOperations,
  deviceOperations,
  rosterOperations,
  dicomwebOperations,
  auditOperations,
  outboxOperations,
  edgeAppOperations,
  healthOperations,
  apiDocumentOperations,
].flatMap((group) => Object.values(group));

/**
 * The methods declared for a request path (upper case; HEAD wherever GET is, as Express serves
 * it), or undefined when no operation has this path: for 405 and its `Allow`.
 */
export const allowedMethods: (path: string) => string[] | undefined = allowedMethodsFrom(API_OPERATIONS);
