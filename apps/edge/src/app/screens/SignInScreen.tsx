import { useState } from 'react';
import { useAuthState, useDetailsLock, useOnline, useServices, useVaultState } from '../services.ts';
import { UnlockScreen } from './UnlockScreen.tsx';

/**
 * Sign-in: only needed to send. Capturing works signed out and offline; the queue waits and
 * starts sending once someone signs in.
 */
export function SignInScreen({ error, onCapture }: { error: string | undefined; onCapture(): void }) {
  const { auth, shell, gate, core } = useServices();
  const state = useAuthState(auth);
  const vaultState = useVaultState(core.vault);
  // The first sign-in starts with the shift PIN: the vault exists before any key or token is made.
  const [choosingPin, setChoosingPin] = useState(false);
  const detailsLock = useDetailsLock(gate);
  const online = useOnline();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(error);

  const signIn = (): void => {
    setBusy(true);
    setProblem(undefined);
    auth
      .signIn()
      .catch((err: unknown) => setProblem(err instanceof Error ? err.message : String(err)))
      .finally(() => setBusy(false));
  };

  if (choosingPin && vaultState === 'none')
    return (
      <UnlockScreen
        mode="set"
        onDone={() => {
          setChoosingPin(false);
          signIn();
        }}
        onCapture={onCapture}
      />
    );

  return (
    <section aria-labelledby="sign-in-title" className="screen sign-in">
      <h1 id="sign-in-title">Sign in</h1>
      {state.status === 'signed-in' ? (
        <p className="lead">
          Signed in as <strong>{state.user.name}</strong>. Captured X-rays are sent as this user.
        </p>
      ) : (
        <p className="lead">
          Sign in to send X-rays to the hospital. You can capture without signing in: X-rays wait safely on this device
          until someone signs in.
        </p>
      )}
      {detailsLock === 'offline-too-long' && (
        <p className="message message-warning" data-testid="grace-expired">
          This device has not reached the server for too long: sign in again to see patient details. Capturing works as
          usual.
        </p>
      )}
      {!online && <p className="message message-warning">Offline: signing in needs a network.</p>}
      <div className="button-row">
        <button
          type="button"
          className="button button-primary button-big"
          onClick={vaultState === 'none' ? () => setChoosingPin(true) : signIn}
          disabled={busy || !online || vaultState === undefined}
        >
          {state.status === 'signed-in' ? 'Sign in as someone else' : 'Sign in'}
        </button>
        {state.status === 'signed-in' && (
          <button type="button" className="button button-big" onClick={() => void auth.signOut()}>
            Sign out
          </button>
        )}
        <button type="button" className="button button-big" onClick={onCapture}>
          {state.status === 'signed-in' ? 'Go to capture' : 'Capture without signing in'}
        </button>
      </div>
      {shell && busy && <p role="status">Finish signing in in the browser window that opened.</p>}
      {problem && (
        <p className="message message-error" role="alert">
          {problem}
        </p>
      )}
    </section>
  );
}
