import type { Router } from 'express';
import type { AuditService } from '../audit/audit.service.ts';
import type { DownloadSlots } from '../http/download-slots.ts';
import type { Pool } from '../db/pool.ts';
import type { IngestDeps } from '../ingest/ingest.service.ts';
import type { ObjectStore } from '../storage/index.ts';
import { RouteTable } from '../http/route-table.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { XrayService } from '../xrays/xray.service.ts';
import { dicomwebOperations } from './dicomweb.operations.ts';
import { mountQido } from './qido.routes.ts';
import { mountStow } from './stow.routes.ts';
import { mountWado } from './wado.routes.ts';
import { mountRendered } from '../rendering/dicomweb-rendered.ts';
import type { RenderService } from '../rendering/render.service.ts';

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
  /** Each user's answers streaming stored bytes at once (WADO-RS retrieve, frames; http/download-slots.ts). */
  downloads: DownloadSlots;
  /** PUBLIC_URL: the base of BulkDataURI and retrieve URLs. */
  publicUrl?: string | undefined;
}

/** The table every DICOMweb module adds its handlers to (`routes.on(operationId, ...)`). */
export type DicomwebRouteTable = RouteTable<typeof dicomwebOperations>;

/** DICOMweb under /dicom-web (authentication is mounted on the prefix in app.ts). */
export function dicomwebRoutes(deps: DicomwebRoutesDeps): Router {
  const routes: DicomwebRouteTable = new RouteTable(dicomwebOperations);
  mountStow(routes, deps);
  mountQido(routes, deps);
  mountWado(routes, deps);
  mountRendered(routes, deps);
  // Each module mounts its own operations; the table refuses to build while one has no handler.
  return routes.router();
}
