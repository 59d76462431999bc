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

  it("a sign-in while the last person's refresh is in flight refreshes again as the new person", async () => {
    const db = await freshDb();
    let person = 'doctor';
    const asked: string[] = [];
    let releaseFirst: () => void = () => undefined;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    const store = new RosterStore({
      db,
      baseUrl: 'https://sync.example',
      authorize: async () => ({ Authorization: `Bearer ${person}` }),
      fetch: async (input, init) => {
        const headers = input instanceof Request ? input.headers : new Headers(init?.headers);
        const who = headers.get('Authorization') ?? '';
        asked.push(who);
        if (asked.length === 1) await firstHeld;
        return who === 'Bearer paramedic'
          ? new Response(JSON.stringify(roster), { status: 200, headers: { 'Content-Type': 'application/json' } })
          : new Response(JSON.stringify({ code: 'forbidden' }), { status: 403 });
      },
    });
    const first = store.refresh();
    await new Promise((r) => setTimeout(r, 10));
    person = 'paramedic';
    const second = store.refresh();
    releaseFirst();
    await Promise.all([first, second]);
    expect(asked).toEqual(['Bearer doctor', 'Bearer paramedic']);
    expect(store.state.roster?.patients.map((p) => p.id)).toEqual(['P-1001']);
  });
});
