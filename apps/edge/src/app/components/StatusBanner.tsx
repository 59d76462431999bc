import type { AuthState } from '../../auth/auth.session.ts';
import type { EngineStatus } from '../../db/edge.records.ts';
import { formatTime } from '../format.ts';

export interface StatusBannerProps {
  online: boolean;
  auth: AuthState;
  engine: EngineStatus | undefined;
  /** When a capture was last confirmed by the server (epoch ms). */
  lastSync: number | undefined;
  waiting: number;
  onSignIn(): void;
}

/** The overall state, always on top: network, who is signed in, and the last successful sync. */
export function StatusBanner({ online, auth, engine, lastSync, waiting, onSignIn }: StatusBannerProps) {
  const signedIn = auth.status === 'signed-in';
  return (
    <div className={`banner ${online ? 'banner-online' : 'banner-offline'}`} data-testid="status-banner">
      <p className="banner-item" role="status" aria-live="polite">
        <span className={`dot ${online ? 'dot-ok' : 'dot-off'}`} aria-hidden="true" />
        {online ? (
          <strong>Online</strong>
        ) : (
          <>
            <strong>Offline</strong> — captures are kept safely on this device
          </>
        )}
      </p>
      <p className="banner-item">
        {signedIn ? (
          <>
            Signed in as <strong>{auth.user.name}</strong>
          </>
        ) : (
          <>
            <strong>Sign-in needed</strong>
            {auth.status === 'expired' ? ` (${auth.reason})` : ''} to send X-rays
            <button type="button" className="button button-small" onClick={onSignIn}>
              Sign in
            </button>
          </>
        )}
      </p>
      <p className="banner-item" data-testid="sync-summary">
        {waiting > 0 ? (
          <>
            <strong>{waiting}</strong> waiting to send{engine?.state === 'syncing' ? ' · sending now' : ''}.{' '}
          </>
        ) : (
          <>All sent. </>
        )}
        Last sync: <strong>{lastSync ? formatTime(lastSync) : 'never'}</strong>
      </p>
    </div>
  );
}
