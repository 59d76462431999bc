import type { Router } from 'express';
import { z } from 'zod';
import { jsonResponse } from '../openapi.parts.ts';
import { defineOperations, RouteTable } from '../route-table.ts';

export const apiDocumentOperations = defineOperations({
  getOpenApiDocument: {
    method: 'get',
    path: '/openapi.json',
    tags: ['operations'],
    summary: 'This OpenAPI 3.1 document',
    description:
      '`servers` names this deployment (PUBLIC_URL); the committed copy in the repository uses a relative URL.',
    access: 'public',
    responses: {
      200: jsonResponse(
        'The OpenAPI document',
        z.record(z.string(), z.unknown()).meta({ description: 'An OpenAPI 3.1 document' }),
      ),
    },
  },
});

/** GET /openapi.json: the document (openapi.ts), built from every declaration on the first request, then kept. */
export function apiDocumentRoutes(build: () => object): Router {
  let document: object | undefined;
  return new RouteTable(apiDocumentOperations)
    .on('getOpenApiDocument', (_req, res) => {
      document ??= build();
      res.json(document);
    })
    .router();
}
