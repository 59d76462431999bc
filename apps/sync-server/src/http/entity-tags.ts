/**
 * Entity tags (RFC 9110 §8.8.3, §13.1). The API has two kinds, for two resources:
 * - the X-ray resource (GET /xrays/{id}): `"v<changeSeq>"`, its change sequence, which every change
 *   of what GET shows moves on (upload, correction, link settled). Strong: the same sequence
 *   always serialises to the same body, so `If-Match` (which compares strongly) can use it.
 * - the file (GET /xrays/{id}/download): `"<sha256>"` of the bytes, which never change.
 */

/** The X-ray resource's entity tag. */
export const resourceEtag = (x: { changeSeq: number }): string => `"v${x.changeSeq}"`;

/** The tags of an If-Match / If-None-Match list (`*` kept as is), in order. */
function tagsOf(header: string): string[] {
  return [...header.matchAll(/\s*(\*|(?:W\/)?"[^"]*")\s*(?:,|$)/g)].map((m) => m[1] ?? '');
}

/**
 * If-None-Match (weak comparison, §13.1.2): true when the client's copy is current, i.e. the
 * answer is 304. An absent header never matches.
 */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const strip = (t: string) => t.replace(/^W\//, '');
  return tagsOf(header).some((t) => t === '*' || strip(t) === strip(etag));
}

/**
 * If-Match (strong comparison, §13.1.1): true when the precondition holds. An absent header
 * holds; a weak tag never matches; `*` matches any current resource.
 */
export function ifMatchHolds(header: string | undefined, etag: string): boolean {
  if (header === undefined) return true;
  return tagsOf(header).some((t) => t === '*' || (!t.startsWith('W/') && t === etag));
}
