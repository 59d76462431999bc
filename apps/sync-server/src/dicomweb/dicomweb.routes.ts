import type { Router } from 'express';
import type { AuditService } from '../audit/audit.service.ts';
import type { Pool } from '../db/pool.ts';
import type { IngestDeps } from '../ingest/ingest.service.ts';
import type { ObjectStore } from '../storage/index.ts';
import { DomainError } from '../errors.ts';
import { RouteTable } from '../http/route-table.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { XrayService } from '../xrays/xray.service.ts';
import { dicomwebOperations } from './dicomweb.operations.ts';
import { mountQido } from './qido.routes.ts';
import { mountStow } from './stow.routes.ts';
import { mountWado } from './wado.routes.ts';
import { mountRendered } from '../rendering/dicomweb-rendered.ts';
import type { RenderService } from '../rendering/render.service.ts';

// Until each module mounts its own operations (the table refuses to build with one unhandled).
const STOW_OPERATIONS = ['storeInstances', 'storeStudyInstances'];
const QIDO_OPERATIONS = [
  'searchStudies',
  'searchSeries',
  'searchInstances',
  'searchStudySeries',
  'searchStudyInstances',
  'searchSeriesInstances',
];
const RENDERED_OPERATIONS = [
  'retrieveInstanceRendered',
  'retrieveInstanceThumbnail',
  'retrieveSeriesThumbnail',
  'retrieveStudyThumbnail',
];
const WADO_OPERATIONS = [
  'retrieveStudy',
  'retrieveSeries',
  'retrieveInstance',
  'retrieveStudyMetadata',
  'retrieveSeriesMetadata',
  'retrieveInstanceMetadata',
];

export interface DicomwebRoutesDeps {
  pool: Pool;
  store: ObjectStore;
  xrays: XrayService;
  /** The audit trail: a retrieve of several X-rays leaves one event per X-ray. */
  audit: AuditService;
  /** The one finalize (STOW-RS stores through it, like the other doors). */
  ingest: IngestDeps;
  metrics: Metrics;
  /** Rendered images and thumbnails (src/rendering/), the REST preview's service and cache. */
  renders: RenderService;
  /** PUBLIC_URL: the base of BulkDataURI and retrieve URLs. */
  publicUrl?: string | undefined;
}

/** The table every DICOMweb module adds its handlers to (`routes.on(operationId, ...)`). */
export type DicomwebRouteTable = RouteTable<typeof dicomwebOperations>;

const notYet = () => {
  throw new DomainError('internal', 'Not implemented yet.');
};

/** DICOMweb under /dicom-web (authentication is mounted on the prefix in app.ts). */
export function dicomwebRoutes(deps: DicomwebRoutesDeps): Router {
  const routes: DicomwebRouteTable = new RouteTable(dicomwebOperations);
  mountStow(routes, deps);
  mountQido(routes, deps);
  mountWado(routes, deps);
  mountRendered(routes, deps);
  const mounted = new Set<string>([...STOW_OPERATIONS, ...QIDO_OPERATIONS, ...WADO_OPERATIONS, ...RENDERED_OPERATIONS]);
  for (const op of Object.keys(dicomwebOperations) as (keyof typeof dicomwebOperations)[])
    if (!mounted.has(op)) routes.on(op, notYet);
  return routes.router();
}
