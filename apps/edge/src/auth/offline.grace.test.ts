import { afterEach, describe, expect, it } from 'vitest';
import { setUpPin } from './device.unlock.ts';
import { PatientDetailsGate } from './offline.grace.ts';
import { keyVaultFor } from '../crypto/key.vault.ts';
import { EdgeDb } from '../db/edge.db.ts';

const HOUR = 60 * 60 * 1000;
let db: EdgeDb | undefined;
afterEach(async () => {
  await db?.delete();
  db = undefined;
});

async function unlockedGate(signedIn: { now: boolean }, clock: { now: number }) {
  db = new EdgeDb(`grace-${crypto.randomUUID()}`);
  const vault = keyVaultFor(db, { scrypt: { N: 2 ** 10, r: 8, p: 1 } });
  await setUpPin(db, '246810');
  const gate = new PatientDetailsGate({
    db,
    vault,
    graceMs: () => 12 * HOUR,
    now: () => clock.now,
    signedIn: () => signedIn.now,
  });
  await gate.load();
  return gate;
}

describe('offline grace period: what counts as server contact', () => {
  it('an answer while signed in restarts the period; past it the details lock', async () => {
    const clock = { now: 1_000_000 };
    const gate = await unlockedGate({ now: true }, clock);
    expect(gate.lock).toBe('offline-too-long'); // never reached the server yet
    await gate.recordContact();
    expect(gate.allowed).toBe(true);
    clock.now += 12 * HOUR + 1;
    expect(gate.lock).toBe('offline-too-long');
    await gate.recordContact();
    expect(gate.allowed).toBe(true);
  });

  it('an answer to a device nobody is signed in on (a stolen tablet whose sign-in ended) does not reopen the details', async () => {
    const clock = { now: 1_000_000 };
    const signedIn = { now: true };
    const gate = await unlockedGate(signedIn, clock);
    await gate.recordContact();
    signedIn.now = false;
    clock.now += 12 * HOUR + 1;
    // On any network, /edge-config answers anyone: that alone must not restart the clock.
    await gate.recordContact();
    expect(gate.lock).toBe('offline-too-long');
    // Nor after a restart (the clock is kept in IndexedDB).
    await gate.load();
    expect(gate.lock).toBe('offline-too-long');
    // A person signs in: the next answer opens them again.
    signedIn.now = true;
    await gate.recordContact();
    expect(gate.allowed).toBe(true);
  });
});
