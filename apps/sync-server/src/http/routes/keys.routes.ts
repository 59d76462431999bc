import type { Router } from 'express';
import { z } from 'zod';
import type { UploadJwks } from '@xray/shared';
import type { KeyService } from '../../keys/key.service.ts';
import { jsonResponse } from '../openapi.parts.ts';
import { defineOperations, RouteTable } from '../route-table.ts';

const UploadJwkSchema = z.object({
  kty: z.literal('RSA'),
  n: z.string().meta({ description: 'Modulus (base64url); at least 3072 bits' }),
  e: z.string().meta({ description: 'Public exponent (base64url): `AQAB`' }),
  alg: z.literal('RSA-OAEP-256'),
  use: z.literal('enc'),
  kid: z.string().meta({ description: 'RFC 7638 thumbprint of the key' }),
});

/** The shape `GET /keys/upload` answers (the shared UploadJwks type, as a schema for the document). */
export const UploadJwksSchema = z
  .object({
    keys: z
      .array(UploadJwkSchema)
      .min(1)
      .meta({ description: 'The current key first; then the previous one during a rotation' }),
    endorsements: z
      .array(
        z.object({
          by: z.string().meta({ description: 'kid of the signing (previous) key' }),
          for: z.string().meta({ description: 'kid of the endorsed (current) key' }),
          sig: z.string().meta({ description: 'base64url RSA-PSS (SHA-256, 32-byte salt) signature' }),
        }),
      )
      .optional()
      .meta({ description: "A previous key's signatures over the current key's thumbprint (a rotation)" }),
  })
  .meta({ id: 'UploadJwks' }) satisfies z.ZodType<UploadJwks>;

export const keyOperations = defineOperations({
  getUploadKeys: {
    method: 'get',
    path: '/keys/upload',
    tags: ['keys'],
    summary: "The server's upload public key(s) (JWKS, RSA-OAEP-256)",
    description:
      "Edges wrap each X-ray's data key for the current key and send it in the tus `Upload-Metadata` (`dek`, `kid`). No secret: public, cacheable for 5 minutes.",
    access: 'public',
    responses: { 200: jsonResponse('The upload key set', UploadJwksSchema, ['Cache-Control']) },
  },
});

export function keyRoutes(keys: KeyService): Router {
  return new RouteTable(keyOperations)
    .on('getUploadKeys', (_req, res) => {
      res.set('Cache-Control', 'public, max-age=300').json(keys.uploadJwks());
    })
    .router();
}
