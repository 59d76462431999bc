import { useState } from 'react';
import { StatusBanner } from './components/StatusBanner.tsx';
import { CaptureScreen } from './screens/CaptureScreen.tsx';
import { QueueScreen } from './screens/QueueScreen.tsx';
import { SettingsScreen } from './screens/SettingsScreen.tsx';
import { SignInScreen } from './screens/SignInScreen.tsx';
import { useAuthState, useCaptures, useEngineStatus, useOnline, useServices, useUpdateAvailable } from './services.ts';

export type Screen = 'capture' | 'queue' | 'settings' | 'sign-in';

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
export function App({ signInError, onSettingsSaved }: { signInError?: string; onSettingsSaved(): void }) {
  const { core, auth, updates } = useServices();
  const authState = useAuthState(auth);
  const online = useOnline();
  const captures = useCaptures(core) ?? [];
  const engine = useEngineStatus(core);
  const updateReady = useUpdateAvailable(updates);
  const [screen, setScreen] = useState<Screen>(
    signInError || authState.status === 'signed-out' ? 'sign-in' : 'capture',
  );
  const waiting = captures.filter((c) => c.status !== 'synced').length;
  const attention = captures.filter((c) => c.status === 'needs-attention').length;
  const lastSync = captures.reduce<number | undefined>(
    (t, c) => (c.syncedAt && (!t || c.syncedAt > t) ? c.syncedAt : t),
    undefined,
  );

  return (
    <div className="app">
      <header className="top">
        <StatusBanner
          online={online}
          auth={authState}
          engine={engine}
          lastSync={lastSync}
          waiting={waiting}
          onSignIn={() => setScreen('sign-in')}
        />
        <nav aria-label="Screens" className="tabs">
          {TABS.map((t) => (
            <button
              key={t.screen}
              type="button"
              className="tab"
              aria-current={screen === t.screen ? 'page' : undefined}
              onClick={() => setScreen(t.screen)}
            >
              {t.label}
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
          <QueueScreen captures={captures} />
        </div>
        <div hidden={screen !== 'settings'}>
          <SettingsScreen onSaved={onSettingsSaved} />
        </div>
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
