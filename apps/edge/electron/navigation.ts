/** What the window does with a URL it is asked to open or navigate to. */
export type NavigationDecision = 'allow' | 'open-external' | 'deny';

/**
 * Only the app itself loads in the window. Web links (https) open in the system browser;
 * everything else (file:, javascript:, other schemes, plain http elsewhere) is refused.
 */
export function decideNavigation(target: string, appOrigin: string): NavigationDecision {
  const url = URL.parse(target);
  if (!url) return 'deny';
  if (url.origin === appOrigin) return 'allow';
  if (url.protocol === 'https:') return 'open-external';
  return 'deny';
}

/** IPC is answered only for the app's own top frame (not an injected frame or another origin). */
export function isTrustedSender(senderUrl: string | undefined, appOrigin: string): boolean {
  const url = senderUrl ? URL.parse(senderUrl) : null;
  return url !== null && url.origin === appOrigin;
}

/** What may be handed to the system browser for sign-in: the issuer's https page (or a local one). */
export function isOpenableAuthorizationUrl(value: string): boolean {
  const url = URL.parse(value);
  if (!url) return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === 'localhost');
}
