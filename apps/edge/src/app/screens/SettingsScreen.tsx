import { useState, type FormEvent } from 'react';
import { saveSettings } from '../../config/app-settings.ts';
import { FieldError } from '../components/PatientField.tsx';
import { useServices } from '../services.ts';

/** Server address (HTTPS, or plain HTTP on this machine only) and how long synced copies stay. */
export function SettingsScreen({ onSaved }: { onSaved(): void }) {
  const { settings, storage, updates, deviceId } = useServices();
  const [serverUrl, setServerUrl] = useState(settings.serverUrl);
  const [retentionDays, setRetentionDays] = useState(String(settings.retentionDays));
  const [errors, setErrors] = useState<{ serverUrl?: string; retentionDays?: string }>({});
  const [checking, setChecking] = useState<string>();

  function submit(e: FormEvent): void {
    e.preventDefault();
    const result = saveSettings(storage, { serverUrl, retentionDays });
    if (!result.ok) {
      setErrors({
        ...(result.errors.serverUrl ? { serverUrl: `Server address ${result.errors.serverUrl}.` } : {}),
        ...(result.errors.retentionDays ? { retentionDays: `Keep synced X-rays ${result.errors.retentionDays}.` } : {}),
      });
      return;
    }
    setErrors({});
    onSaved();
  }

  return (
    <section aria-labelledby="settings-title" className="screen settings">
      <h1 id="settings-title">Settings</h1>
      <form onSubmit={submit} noValidate aria-label="Settings" className="settings-form">
        <div className="field">
          <label htmlFor="serverUrl">Server address</label>
          <input
            id="serverUrl"
            type="url"
            inputMode="url"
            autoComplete="off"
            value={serverUrl}
            onChange={(e) => setServerUrl(e.target.value)}
            aria-invalid={errors.serverUrl ? true : undefined}
            aria-describedby="serverUrl-hint serverUrl-error"
          />
          <p id="serverUrl-hint" className="hint">
            Must start with https:// (plain http:// only for localhost).
          </p>
          <FieldError id="serverUrl-error" message={errors.serverUrl} />
        </div>
        <div className="field field-narrow">
          <label htmlFor="retentionDays">Keep synced X-rays on this device (days)</label>
          <input
            id="retentionDays"
            type="number"
            inputMode="numeric"
            min={1}
            max={90}
            value={retentionDays}
            onChange={(e) => setRetentionDays(e.target.value)}
            aria-invalid={errors.retentionDays ? true : undefined}
            aria-describedby="retentionDays-hint retentionDays-error"
          />
          <p id="retentionDays-hint" className="hint">
            The encrypted copy is removed this long after the server confirmed it (1 to 90 days).
          </p>
          <FieldError id="retentionDays-error" message={errors.retentionDays} />
        </div>
        <button type="submit" className="button button-primary">
          Save settings
        </button>
      </form>
      <h2>This app</h2>
      <p>
        Version <strong>{__APP_VERSION__}</strong> · device <strong>{deviceId}</strong>
      </p>
      <p>
        <button
          type="button"
          className="button"
          onClick={() => {
            setChecking('Checking…');
            updates
              .check()
              .then(() => setChecking(updates.available ? 'A new version is ready.' : 'This is the latest version.'))
              .catch(() => setChecking('Cannot check now (offline?).'));
          }}
        >
          Check for a new version
        </button>{' '}
        <span role="status">{checking}</span>
      </p>
    </section>
  );
}
