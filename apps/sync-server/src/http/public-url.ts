/**
 * A path of this API as clients must follow it: under PUBLIC_URL (its path prefix kept, as the
 * tus door's Location and the events' links are), or as it is when PUBLIC_URL is unset.
 */
export function publicHref(publicUrl: string | undefined, path: string): string {
  return publicUrl ? `${publicUrl.replace(/\/+$/, '')}${path}` : path;
}

/**
 * Where this machine reaches a listener on `host`:`port`: loopback for a wildcard address, an IPv6
 * host in brackets. The base of event links without PUBLIC_URL, and of the metrics listener.
 */
export function listeningUrl(host: string, port: number): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return `http://${h === '0.0.0.0' ? '127.0.0.1' : h}:${port}`;
}
