import type { Roster } from '@xray/shared';
import { describe, expect, it } from 'vitest';
import { RosterStore } from './roster.store.ts';
import { freshDb } from '../../test/fixtures.ts';

const roster: Roster = {
  generatedAt: new Date().toISOString(),
  patients: [{ id: 'P-1001', name: 'Maria Keller', birthDate: '1957-03-14' }],
  consultations: [],
};

describe('roster store', () => {
  it('a person the server refuses the roster to (a doctor after a paramedic) no longer sees the kept one', async () => {
    const db = await freshDb();
    let answer = new Response(JSON.stringify(roster), { status: 200, headers: { 'Content-Type': 'application/json' } });
    const store = new RosterStore({
      db,
      baseUrl: 'https://sync.example',
      authorize: async () => ({ Authorization: 'Bearer t' }),
      fetch: async () => answer,
    });
    await store.refresh();
    expect(store.state.roster?.patients.map((p) => p.id)).toEqual(['P-1001']);
    expect(await db.settings.get('roster')).toBeDefined();

    answer = new Response(JSON.stringify({ code: 'forbidden' }), { status: 403 });
    await store.refresh();
    expect(store.state.roster).toBeUndefined();
    expect(await db.settings.get('roster')).toBeUndefined();
    // Nor after a restart of the app.
    const again = new RosterStore({ db, baseUrl: 'https://sync.example', authorize: async () => null });
    await again.load();
    expect(again.state.roster).toBeUndefined();
  });
});
