import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';

/**
 * The TypeScript types a client is generated from (openapi-typescript), written next to the typed
 * client in packages/shared (`@xray/shared/api`, used by the edge app and the server's tests).
 * `pnpm --filter @xray/sync-server openapi` writes them with openapi.json; a test fails when the
 * committed copy is not what the committed document generates.
 */
export const CLIENT_TYPES_FILE = new URL('../../../../packages/shared/src/api/openapi.d.ts', import.meta.url);

const HEADER =
  '// Generated from apps/sync-server/openapi.json by `pnpm --filter @xray/sync-server openapi`\n' +
  '// (openapi-typescript). Do not edit: change the route declarations and regenerate.\n\n';

const BLOB = ts.factory.createTypeReferenceNode(ts.factory.createIdentifier('Blob'));

export async function clientTypesOf(document: unknown): Promise<string> {
  // The document is ours and JSON: openapi-typescript validates it on the way (Redocly's parser).
  const ast = await openapiTS(Buffer.from(JSON.stringify(document)), {
    silent: true,
    // A field is optional exactly when the document says so. openapi-typescript's default makes a
    // field with a `default` required, which is right for what the server answers but wrong for
    // what a client sends: the request schemas are zod *input* types (a defaulted field such as
    // XrayMetadataInput.priority may be left out), and zod-to-openapi leaves such fields out of
    // `required`.
    defaultNonNullable: false,
    // Files (a multipart part, a download) are Blobs in fetch's world, not strings.
    transform: (schema) => (schema.format === 'binary' ? BLOB : undefined),
  });
  return HEADER + astToString(ast);
}
