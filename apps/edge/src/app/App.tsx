import { useEffect, useState } from 'react';
import { StatusBanner } from './components/StatusBanner.tsx';
import type { WipeNotice } from '../db/edge.records.ts';
import { CaptureScreen } from './screens/CaptureScreen.tsx';
import { QueueScreen } from './screens/QueueScreen.tsx';
import { SettingsScreen } from './screens/SettingsScreen.tsx';
import { SignInScreen } from './screens/SignInScreen.tsx';
import { UnlockScreen } from './screens/UnlockScreen.tsx';
import {
  useAuthState,
  useCaptures,
  useDetailsLock,
  useEngineStatus,
  useOnline,
  useServices,
  useUpdateAvailable,
  useVaultState,
} from './services.ts';

export type Screen = 'capture' | 'queue' | 'settings' | 'sign-in' | 'unlock';

const TABS: { screen: Screen; label: string }[] = [
  { screen: 'capture', label: 'Capture' },
  { screen: 'queue', label: 'Queue' },
  { screen: 'settings', label: 'Settings' },
  { screen: 'sign-in', label: 'Sign in' },
];

/**
 * The app: the status banner, big tabs, and the screens. Screens stay mounted when hidden so a
 * half-filled capture form survives a look at the queue.
 */
export function App({
  signInError,
  wiped,
  onSettingsSaved,
}: {
  signInError?: string;
  /** This device was revoked and wiped itself: why, and how many captures were lost. */
  wiped?: WipeNotice;
  onSettingsSaved(): void;
}) {
  const { core, auth, updates, gate } = useServices();
  const authState = useAuthState(auth);
  const vaultState = useVaultState(core.vault);
  const detailsLock = useDetailsLock(gate);
  // The PIN is asked for when the device is locked, or chosen once someone has signed in.
  const unlockMode =
    vaultState === 'locked' ? 'enter' : vaultState === 'none' && authState.status === 'signed-in' ? 'set' : undefined;
  const online = useOnline();
  const captures = useCaptures(core) ?? [];
  const engine = useEngineStatus(core);
  const updateReady = useUpdateAvailable(updates);
  const [chosen, setScreen] = useState<Screen>(
    signInError || authState.status === 'signed-out' ? 'sign-in' : 'capture',
  );
  // A locked device (or a sign-in waiting for its PIN) turns to the PIN screen once; the other
  // screens stay a tap away, capture first of all.
  const [asked, setAsked] = useState<string>();
  useEffect(() => {
    if (unlockMode && asked !== unlockMode) {
      setAsked(unlockMode);
      setScreen('unlock');
    }
  }, [unlockMode, asked]);
  const screen: Screen = chosen === 'unlock' && !unlockMode ? 'capture' : chosen;
  const tabs = unlockMode
    ? [...TABS, { screen: 'unlock' as const, label: unlockMode === 'set' ? 'Set PIN' : 'Unlock' }]
    : TABS;
  const waiting = captures.filter((c) => c.status !== 'synced').length;
  const attention = captures.filter((c) => c.status === 'needs-attention').length;
  const lastSync = captures.reduce<number | undefined>(
    (t, c) => (c.syncedAt && (!t || c.syncedAt > t) ? c.syncedAt : t),
    undefined,
  );

  return (
    <div className="app">
      <header className="top">
        {wiped && (
          <p role="alert" className="wiped" data-testid="wiped">
            This device was revoked by an administrator and its data was wiped: {wiped.reason}{' '}
            {wiped.lostCaptures === 0
              ? 'Every capture had reached the server.'
              : `${wiped.lostCaptures} ${wiped.lostCaptures === 1 ? 'capture' : 'captures'} not yet sent ${wiped.lostCaptures === 1 ? 'was' : 'were'} lost.`}{' '}
            {wiped.reported ? 'The server was told.' : 'The server could not be told.'}
          </p>
        )}
        <StatusBanner
          online={online}
          auth={authState}
          engine={engine}
          lastSync={lastSync}
          waiting={waiting}
          onSignIn={() => setScreen('sign-in')}
        />
        <nav aria-label="Screens" className="tabs">
          {tabs.map((t) => (
            <button
              key={t.screen}
              type="button"
              className="tab"
              aria-current={screen === t.screen ? 'page' : undefined}
              onClick={() => setScreen(t.screen)}
            >
              {t.screen === 'sign-in' && authState.status === 'signed-in' ? 'Account' : t.label}
              {t.screen === 'queue' && waiting > 0 && (
                <span className={`count ${attention ? 'count-attention' : ''}`} aria-label={`${waiting} waiting`}>
                  {waiting}
                </span>
              )}
            </button>
          ))}
        </nav>
      </header>
      <main>
        <div hidden={screen !== 'capture'}>
          <CaptureScreen />
        </div>
        <div hidden={screen !== 'queue'}>
          <QueueScreen
            captures={captures}
            detailsLock={detailsLock}
            onUnlock={() => setScreen(detailsLock === 'device-locked' ? 'unlock' : 'sign-in')}
          />
        </div>
        <div hidden={screen !== 'settings'}>
          <SettingsScreen onSaved={onSettingsSaved} />
        </div>
        {unlockMode && screen === 'unlock' && (
          <UnlockScreen mode={unlockMode} onDone={() => setScreen('capture')} onCapture={() => setScreen('capture')} />
        )}
        <div hidden={screen !== 'sign-in'}>
          <SignInScreen error={signInError} onCapture={() => setScreen('capture')} />
        </div>
      </main>
      {updateReady && (
        <div className="update" role="status" data-testid="update-prompt">
          <p>A new version of the app is ready.</p>
          <button type="button" className="button button-primary" onClick={() => updates.apply()}>
            Reload to update
          </button>
        </div>
      )}
    </div>
  );
}
