import { useState, type FormEvent } from 'react';
import { setUpPin, unlockWithPin } from '../../auth/device.unlock.ts';
import { MIN_PIN_LENGTH, VaultError } from '../../crypto/key.vault.ts';
import { useServices } from '../services.ts';

/**
 * The shift PIN. Chosen at the first sign-in (it protects this device's keys and the sign-in
 * on disk), entered once per shift. Capturing never needs it: X-rays are encrypted to the
 * device's public key and wait, unreadable, until the device is unlocked.
 */
export function UnlockScreen({
  mode,
  onDone,
  onCapture,
}: {
  mode: 'set' | 'enter';
  onDone(): void;
  onCapture(): void;
}) {
  const { core, auth, keyringProblem } = useServices();
  const [pin, setPin] = useState('');
  const [again, setAgain] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string>();

  async function submit(event: FormEvent): Promise<void> {
    event.preventDefault();
    setProblem(undefined);
    if (mode === 'set' && pin !== again) {
      setProblem('The two PINs are not the same.');
      return;
    }
    setBusy(true);
    try {
      await (mode === 'set' ? setUpPin(core.db, pin) : unlockWithPin(core.db, pin));
      // The sealed sign-in opens now: sending can start.
      await auth.load();
      core.engine.tokenChanged();
      setPin('');
      setAgain('');
      onDone();
    } catch (err) {
      setProblem(err instanceof VaultError || err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="unlock-title" className="screen unlock">
      <h1 id="unlock-title">{mode === 'set' ? 'Choose a shift PIN' : 'Unlock for this shift'}</h1>
      <p className="lead">
        {mode === 'set'
          ? `The PIN protects this device's keys and your sign-in if the tablet is lost. At least ${MIN_PIN_LENGTH} digits; you enter it once per shift.`
          : 'Enter the shift PIN to see patient details and send the captures. Capturing works without it.'}
      </p>
      {keyringProblem && <p className="message message-warning">{keyringProblem}</p>}
      <form onSubmit={(e) => void submit(e)} className="unlock-form">
        <label htmlFor="pin">PIN</label>
        <input
          id="pin"
          type="password"
          inputMode="numeric"
          autoComplete={mode === 'set' ? 'new-password' : 'current-password'}
          value={pin}
          onChange={(e) => setPin(e.target.value)}
          disabled={busy}
        />
        {mode === 'set' && (
          <>
            <label htmlFor="pin-again">PIN again</label>
            <input
              id="pin-again"
              type="password"
              inputMode="numeric"
              autoComplete="new-password"
              value={again}
              onChange={(e) => setAgain(e.target.value)}
              disabled={busy}
            />
          </>
        )}
        <div className="button-row">
          <button type="submit" className="button button-primary button-big" disabled={busy || pin === ''}>
            {busy ? 'Checking…' : mode === 'set' ? 'Set PIN' : 'Unlock'}
          </button>
          <button type="button" className="button button-big" onClick={onCapture}>
            Capture without unlocking
          </button>
        </div>
      </form>
      {problem && (
        <p className="message message-error" role="alert">
          {problem}
        </p>
      )}
    </section>
  );
}
