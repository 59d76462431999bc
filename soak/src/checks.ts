/** What a soak run must prove, from the evidence it gathered: a pure function, tested on its own. */

export interface Check {
  name: string;
  ok: boolean;
  /** What was found; names at most five of the ids at fault. */
  detail: string;
  /** Every id (X-ray, event, object key) the check found at fault. */
  subjects?: string[];
}

export interface Evidence {
  /** Every capture the devices stored: id and the sha256 of the plaintext. */
  captured: readonly { id: string; sha256: string }[];
  /** Ids a device reported more than once (two captures with one id). */
  duplicateCaptureIds: readonly string[];
  /** The rows of `xrays`: id and the sha256 the server recorded. */
  stored: readonly { id: string; sha256: string }[];
  /** id → sha256 of the bytes downloaded from the API (or an error text); absent: not downloaded. */
  downloads?: ReadonlyMap<string, string>;
  /** Captures the devices put in needs-attention (the server refused them). */
  needsAttention: readonly string[];
  fleetErrors: readonly string[];
  /** The outbox: every event the servers produced. */
  events: readonly { id: string; type: string; xrayId: string | null }[];
  /** Outbox deliveries not delivered (pending or dead) when the run stopped waiting. */
  undelivered: number;
  /** Event id → how many times it arrived (signed, answered 2xx) at the Doctor Service. */
  webhook: ReadonlyMap<string, number>;
  /** Event id → how many times it arrived on RabbitMQ. */
  amqp: ReadonlyMap<string, number>;
  audit: { exitCode: number | null; output: string };
  /**
   * The audit trail's record of each X-ray stored: every `xray.create` success with `created: true`
   * (its id and the sha256 it recorded). verify-audit alone passes an empty or partial trail.
   */
  auditCreated: readonly { xrayId: string | null; sha256: string | null }[];
  leftovers: { uploadRows: number; multipartUploads: number; strayObjects: readonly string[] };
  /** Undefined: every queue emptied; else how many captures were still queued. */
  notDrained?: number;
}

const some = (ids: readonly string[]): string => (ids.length ? ` (${ids.slice(0, 5).join(', ')})` : '');
const duplicates = (m: ReadonlyMap<string, number>): number =>
  [...m.values()].reduce((s, n) => s + Math.max(0, n - 1), 0);

export function judge(e: Evidence): Check[] {
  const checks: Check[] = [];
  const check = (name: string, ok: boolean, detail: string, subjects: readonly string[] = []): void =>
    void checks.push({ name, ok, detail, ...(subjects.length ? { subjects: [...subjects] } : {}) });

  const captured = new Map(e.captured.map((c) => [c.id, c.sha256]));
  const rows = new Map<string, { sha256: string; n: number }>();
  for (const r of e.stored) rows.set(r.id, { sha256: r.sha256, n: (rows.get(r.id)?.n ?? 0) + 1 });
  const missing = [...captured.keys()].filter((id) => !rows.has(id));
  const extra = [...rows.keys()].filter((id) => !captured.has(id));
  const doubled = [...[...rows].filter(([, r]) => r.n > 1).map(([id]) => id), ...e.duplicateCaptureIds];
  check(
    'every capture stored once',
    captured.size > 0 && missing.length === 0 && extra.length === 0 && doubled.length === 0,
    `${captured.size} captured, ${rows.size} stored; missing ${missing.length}${some(missing)}, not captured ${extra.length}${some(extra)}, doubled ${doubled.length}${some(doubled)}`,
    [...missing, ...extra, ...doubled],
  );
  const altered = [...captured].filter(([id, sha]) => rows.has(id) && rows.get(id)!.sha256 !== sha).map(([id]) => id);
  check(
    'recorded sha256 equals the capture’s',
    altered.length === 0,
    `${altered.length} differ${some(altered)}`,
    altered,
  );
  if (e.downloads) {
    const bad = [...rows.keys()].filter((id) => e.downloads!.get(id) !== captured.get(id));
    check(
      'downloaded bytes sha256-equal',
      bad.length === 0,
      `${e.downloads.size} downloaded, ${bad.length} missing or different${some(bad)}`,
      bad,
    );
  }
  check(
    'no capture needs attention',
    e.needsAttention.length === 0,
    `${e.needsAttention.length}${e.needsAttention.length ? `: ${e.needsAttention.slice(0, 3).join('; ')}` : ''}`,
  );
  check(
    'no fleet errors',
    e.fleetErrors.length === 0,
    e.fleetErrors.length ? e.fleetErrors.slice(0, 3).join('; ') : 'none',
  );

  // Exactly one: a second xray.uploaded for one X-ray has an id of its own, so the Doctor Service
  // could not tell it from a repeat delivery — the X-ray would arrive twice.
  const uploadedFor = new Map<string | null, number>();
  for (const x of e.events)
    if (x.type === 'xray.uploaded') uploadedFor.set(x.xrayId, (uploadedFor.get(x.xrayId) ?? 0) + 1);
  const noEvent = [...rows.keys()].filter((id) => !uploadedFor.has(id));
  const twice = [...rows.keys()].filter((id) => (uploadedFor.get(id) ?? 0) > 1);
  const eventNoXray = [...uploadedFor.keys()].filter((id) => id === null || !rows.has(id)).map(String);
  check(
    'one xray.uploaded event per X-ray',
    noEvent.length === 0 && twice.length === 0 && eventNoXray.length === 0,
    `${noEvent.length} X-rays without one${some(noEvent)}, ${twice.length} with more than one${some(twice)}, ${eventNoXray.length} for no stored X-ray${some(eventNoXray)}`,
    [...noEvent, ...twice, ...eventNoXray],
  );
  check('outbox delivered', e.undelivered === 0, `${e.undelivered} deliveries pending or dead`);
  for (const [name, seen] of [
    ['every event id at the Doctor Service (webhook)', e.webhook],
    ['every event id on RabbitMQ', e.amqp],
  ] as const) {
    const lost = e.events.filter((x) => !seen.has(x.id)).map((x) => x.id);
    check(
      name,
      lost.length === 0,
      `${e.events.length} events, ${lost.length} missing${some(lost)}, ${duplicates(seen)} duplicate deliveries (same id, de-duplicable)`,
      lost,
    );
  }
  check(
    'xray-admin verify-audit',
    e.audit.exitCode === 0,
    `exit ${e.audit.exitCode}: ${e.audit.output.trim().split('\n').slice(-2).join(' ')}`,
  );
  // The chain verifying says nothing about what it holds (an empty trail verifies): each X-ray's
  // creation must be in it, once, with the sha256 that was stored.
  const audited = new Map<string | null, { n: number; sha256: string | null }>();
  for (const a of e.auditCreated) audited.set(a.xrayId, { n: (audited.get(a.xrayId)?.n ?? 0) + 1, sha256: a.sha256 });
  const unaudited = [...rows.keys()].filter((id) => !audited.has(id));
  const auditedTwice = [...audited].filter(([, a]) => a.n > 1).map(([id]) => String(id));
  const auditedOther = [...rows]
    .filter(([id, r]) => audited.has(id) && audited.get(id)!.sha256 !== r.sha256)
    .map(([id]) => id);
  const auditedNotStored = [...audited.keys()].filter((id) => id === null || !rows.has(id)).map(String);
  check(
    'an audit event for every X-ray stored',
    unaudited.length + auditedTwice.length + auditedOther.length + auditedNotStored.length === 0,
    `${e.auditCreated.length} creations audited; X-rays without one ${unaudited.length}${some(unaudited)}, audited twice ${auditedTwice.length}${some(auditedTwice)}, another sha256 ${auditedOther.length}${some(auditedOther)}, audited but not stored ${auditedNotStored.length}${some(auditedNotStored)}`,
    [...unaudited, ...auditedTwice, ...auditedOther, ...auditedNotStored],
  );
  const l = e.leftovers;
  check(
    'no upload leftovers after expiry',
    l.uploadRows === 0 && l.multipartUploads === 0 && l.strayObjects.length === 0,
    `unfinished upload rows ${l.uploadRows}, open multipart uploads ${l.multipartUploads}, stray objects ${l.strayObjects.length}${some(l.strayObjects)}`,
    l.strayObjects,
  );
  check(
    'every queue drained',
    e.notDrained === undefined,
    e.notDrained === undefined ? 'yes' : `${e.notDrained} captures still queued`,
  );
  return checks;
}

/** A fault put into a finished run's stack on purpose (src/tamper.ts), and the check that must see it. */
export interface Tampering {
  /** What was done. */
  name: string;
  /** The check that must fail because of it. */
  check: string;
  /** What that check's detail must name (an X-ray id, an event id, an object key); absent: failing is enough. */
  names?: string;
}

/** The tamperings whose check did not fail, or whose detail does not name what was tampered with. */
export function missedTampering(applied: readonly Tampering[], checks: readonly Check[]): string[] {
  return applied
    .filter((a) => {
      const c = checks.find((x) => x.name === a.check);
      if (!c || c.ok) return true;
      return a.names !== undefined && !c.detail.includes(a.names) && !c.subjects?.includes(a.names);
    })
    .map((a) => `${a.name} (${a.check})`);
}
