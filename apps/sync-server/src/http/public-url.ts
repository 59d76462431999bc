/**
 * A path of this API as clients must follow it: under PUBLIC_URL (its path prefix kept, as the
 * tus door's Location and the events' links are), or as it is when PUBLIC_URL is unset.
 */
export function publicHref(publicUrl: string | undefined, path: string): string {
  return publicUrl ? `${publicUrl.replace(/\/+$/, '')}${path}` : path;
}
