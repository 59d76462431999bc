import os from 'node:os';
import type { SoakResult } from './run.ts';

const esc = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

const s = (ms: number): string => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : '—');
const mb = (b: number): string => `${(b / 1e6).toFixed(1)} MB`;
const max = (v: readonly number[]): number => (v.length ? Math.max(...v) : Number.NaN);
const gb = (b: number): string => `${(b / 1e9).toFixed(2)} GB`;

/** Queue depth and upload throughput over the run, with the faults as shaded bands. */
export function timelineChart(r: SoakResult): string {
  const W = 1000;
  const H = 420;
  const left = 60;
  const right = 70;
  const top = 50;
  const plotH = 300;
  const plotW = W - left - right;
  const tl = r.timeline;
  const tMax = Math.max(1, ...tl.map((p) => p.t));
  const dMax = Math.max(1, ...tl.map((p) => p.queueDepth));
  const bMax = Math.max(1, ...tl.map((p) => p.upBytesPerS)) / 1e6;
  const x = (t: number): number => left + (t / tMax) * plotW;
  const yd = (d: number): number => top + plotH - (d / dMax) * plotH;
  const yb = (b: number): number => top + plotH - (b / 1e6 / bMax) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="600">${esc(`Soak: ${r.options.devices} devices, ${Math.round(r.captureMs / 60000)} min of captures, then the drain`)}</text>`,
    `<text x="10" y="38" fill="#555">blue: captures queued on all devices (left axis) · orange: upload throughput through the proxies, MB/s (right axis) · grey bands: scheduled faults</text>`,
  ];
  const seen = new Set<string>();
  for (const f of r.faults) {
    const x1 = x(f.at);
    const x2 = Math.max(x1 + 2, x(f.until ?? f.at));
    out.push(
      `<rect x="${x1.toFixed(1)}" y="${top}" width="${(x2 - x1).toFixed(1)}" height="${plotH}" fill="#999" opacity="0.18"/>`,
    );
    const label = seen.has(f.name) ? '' : f.name;
    seen.add(f.name);
    if (label)
      out.push(
        `<text x="${(x1 + 2).toFixed(1)}" y="${top + 12 + (seen.size % 6) * 13}" fill="#666" font-size="10">${esc(label)}</text>`,
      );
  }
  const captureEnd = r.timeline.length ? tMax - r.drainMs : 0;
  if (captureEnd > 0)
    out.push(
      `<line x1="${x(captureEnd).toFixed(1)}" y1="${top}" x2="${x(captureEnd).toFixed(1)}" y2="${top + plotH}" stroke="#333" stroke-dasharray="4 3"/>`,
      `<text x="${(x(captureEnd) + 3).toFixed(1)}" y="${top + plotH - 4}" fill="#333" font-size="10">captures stop; drain</text>`,
    );
  out.push(
    `<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#333"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#1f5fbf"/>`,
    `<line x1="${left + plotW}" y1="${top}" x2="${left + plotW}" y2="${top + plotH}" stroke="#d9730d"/>`,
  );
  for (let i = 0; i <= 4; i++) {
    const v = (dMax * i) / 4;
    const bv = (bMax * i) / 4;
    const y = top + plotH - (plotH * i) / 4;
    out.push(
      `<text x="${left - 6}" y="${y + 4}" text-anchor="end" fill="#1f5fbf">${Math.round(v)}</text>`,
      `<text x="${left + plotW + 6}" y="${y + 4}" fill="#d9730d">${bv.toFixed(1)}</text>`,
    );
  }
  const ticks = 10;
  for (let i = 0; i <= ticks; i++) {
    const tv = (tMax * i) / ticks;
    out.push(
      `<text x="${x(tv).toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle" fill="#555">${(tv / 60000).toFixed(1)}</text>`,
    );
  }
  out.push(`<text x="${left + plotW / 2}" y="${top + plotH + 34}" text-anchor="middle" fill="#555">minutes</text>`);
  const line = (pts: [number, number][], color: string): string =>
    `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}"/>`;
  // Throughput smoothed over 5 samples.
  const smooth = tl.map((p, i) => {
    const w = tl.slice(Math.max(0, i - 4), i + 1);
    return w.reduce((acc, q) => acc + q.upBytesPerS, 0) / w.length;
  });
  out.push(
    line(
      tl.map((p, i) => [x(p.t), yb(smooth[i]!)]),
      '#d9730d',
    ),
  );
  out.push(
    line(
      tl.map((p) => [x(p.t), yd(p.queueDepth)]),
      '#1f5fbf',
    ),
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export function markdown(r: SoakResult, chartFile: string, command: string): string {
  const f = r.figures;
  const rssRows = Object.entries(f.peakRss).map(([k, v]) => `| peak RSS of ${k} | ${mb(v)} |`);
  const lines: string[] = [
    '# Soak results (latest run)',
    '',
    `Run ${r.startedAt.replace(/\.\d+Z$/, 'Z')} with \`${command}\`: ${Math.round(r.captureMs / 1000)} s of captures, drained ${Math.round(r.drainMs / 1000)} s later; ${Math.round(r.wallMs / 1000)} s in all (stack, drain, expiry wait and checks included).`,
    '',
    `- Machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? '?'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}, load average at the end ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (the machine is shared: other work ran beside the soak)`,
    `- Stack: two sync-server processes behind a fault-injecting TCP proxy (one per device, round-robin across the instances), embedded PostgreSQL 18 of its own, Swift s3api (S3), the machine's RabbitMQ through a proxy of its own, the Patient and Doctor Service stand-ins`,
    `- Fleet: ${r.options.devices} devices running the edge's SyncEngine, tus uploader, capture service and Dexie (fake-indexeddb) in one Node process; DICOM captures of ${mb(r.options.minBytes)}–${mb(r.options.maxBytes)}, ${Math.round(r.options.urgentShare * 100)} % urgent, one every ${s(r.options.meanCaptureIntervalMs)} per device on average; seed ${r.options.seed}`,
    `- Links: per device 20–150 ms latency ± 5–60 ms jitter, 0.5–3 MB/s per connection; per connection a 3 % chance of a reset, 2 % of a half-close (either within its first 20 s), 1 % of a black hole; link faults seen: ${r.figures.proxy.resets} resets, ${r.figures.proxy.halfCloses} half-closes, ${r.figures.proxy.blackholes} black holes over ${r.figures.proxy.connections} connections`,
    '',
    `![Queue depth and throughput over time](${chartFile})`,
    '',
    `## Verdict: ${r.ok ? '✅ nothing lost, doubled or altered' : '❌ checks failed'}`,
    '',
    '| check | result | detail |',
    '| ----- | ------ | ------ |',
    ...r.checks.map((c) => `| ${c.name} | ${c.ok ? '✅' : '❌'} | ${c.detail.replaceAll('|', '\\|')} |`),
    '',
    '## Figures',
    '',
    '| figure | value |',
    '| ------ | ----- |',
    `| captures (urgent) | ${f.captures} (${f.urgent}) |`,
    `| payload (plaintext DICOM) | ${gb(f.payloadBytes)} |`,
    `| bytes on the wire, up ÷ payload (delivered to the servers) | ${(f.wireBytesUp / f.payloadBytes).toFixed(3)} (${gb(f.wireBytesUp)}) |`,
    ...(f.wireBytesSent !== undefined
      ? [
          `| bytes sent by the devices ÷ payload (what resets, half-closes and black holes threw away included) | ${(f.wireBytesSent / f.payloadBytes).toFixed(3)} (${gb(f.wireBytesSent)}) |`,
        ]
      : []),
    `| bytes on the wire, up + down ÷ payload | ${((f.wireBytesUp + f.wireBytesDown) / f.payloadBytes).toFixed(3)} |`,
    `| ciphertext ÷ payload (XRE1 overhead) | ${(f.ciphertextBytes / f.payloadBytes).toFixed(4)} |`,
    ...rssRows,
    `| online → queue empty, median / p95 / max (${f.drainMs.length} times) | ${s(quantile(f.drainMs, 0.5))} / ${s(quantile(f.drainMs, 0.95))} / ${s(max(f.drainMs))} |`,
    `| capture → synced, urgent: median / p95 / max (${f.waitMs.urgent.length}) | ${s(quantile(f.waitMs.urgent, 0.5))} / ${s(quantile(f.waitMs.urgent, 0.95))} / ${s(max(f.waitMs.urgent))} |`,
    `| capture → synced, routine: median / p95 / max (${f.waitMs.routine.length}) | ${s(quantile(f.waitMs.routine, 0.5))} / ${s(quantile(f.waitMs.routine, 0.95))} / ${s(max(f.waitMs.routine))} |`,
    `| events in the outbox | ${f.events.expected} |`,
    `| webhook deliveries (duplicates by id) | ${f.events.webhookDeliveries} (${f.events.webhookDuplicates}) |`,
    `| RabbitMQ deliveries (duplicates by id) | ${f.events.amqpDeliveries} (${f.events.amqpDuplicates}) |`,
    `| device kills / offline periods | ${f.kills} / ${f.offlinePeriods} |`,
    `| proxy connections: resets / half-closes / black holes / refused | ${f.proxy.connections}: ${f.proxy.resets} / ${f.proxy.halfCloses} / ${f.proxy.blackholes} / ${f.proxy.refused} |`,
    `| failed upload attempts on the devices, by kind | ${
      Object.entries(f.failedAttempts)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ') || 'none'
    } |`,
    `| server restarts | ${Object.entries(f.restarts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')} |`,
    '',
    'Waits are from the capture being stored on the device to the server confirming it, offline time included. "Online → queue empty" starts when a device with a non-empty queue comes back online (or restarts) and ends when its queue is empty.',
    '',
    '## Faults, in order',
    '',
    '| at | fault | until |',
    '| -- | ----- | ----- |',
    ...r.faults.map(
      (x) => `| ${s(x.at)} | ${x.name}${x.detail ? ` (${x.detail})` : ''} | ${x.until ? s(x.until) : '—'} |`,
    ),
    '',
  ];
  if (r.tampered)
    lines.push(
      '## Tampered with after the checks (`--tamper`): the checks again',
      '',
      ...r.tampered.applied.map((a) => `- ${a.name} → must fail: ${a.check}`),
      '',
      r.tampered.missed.length
        ? `❌ Not seen: ${r.tampered.missed.join('; ')}`
        : `✅ Every tampering seen (${r.tampered.checks.filter((c) => !c.ok).length} checks red).`,
      '',
      '| check | result | detail |',
      '| ----- | ------ | ------ |',
      ...r.tampered.checks.map((c) => `| ${c.name} | ${c.ok ? '✅' : '❌'} | ${c.detail.replaceAll('|', '\\|')} |`),
      '',
    );
  if (r.notes.length) lines.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  return lines.join('\n');
}

/** The README's summary of the committed run. */
export function readmeBlock(r: SoakResult, command: string): string {
  const f = r.figures;
  const failed = r.checks.filter((c) => !c.ok);
  return [
    `Run ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC with \`${command}\`: ${f.captures} captures (${f.urgent} urgent, ${gb(f.payloadBytes)}) from ${r.options.devices} devices in ${Math.round(r.captureMs / 60000)} min, through ${r.faults.length} scheduled faults, ${f.kills} device kills and ${f.offlinePeriods} offline periods.`,
    '',
    failed.length === 0
      ? `- ✅ Every capture stored once and sha256-equal; every event id delivered to the Doctor Service and to RabbitMQ (${f.events.webhookDuplicates + f.events.amqpDuplicates} duplicate deliveries, de-duplicable by id); \`xray-admin verify-audit\` verifies; no upload leftovers after expiry.`
      : `- ❌ Failed: ${failed.map((c) => `${c.name} (${c.detail})`).join('; ')}`,
    `- Bytes on the wire (up) ÷ payload: ${(f.wireBytesUp / f.payloadBytes).toFixed(3)} delivered${f.wireBytesSent !== undefined ? `, ${(f.wireBytesSent / f.payloadBytes).toFixed(3)} sent by the devices` : ''}; peak RSS: ${Object.entries(
      f.peakRss,
    )
      .map(([k, v]) => `${k} ${mb(v)}`)
      .join(', ')}.`,
    `- Online → queue empty: median ${s(quantile(f.drainMs, 0.5))}, p95 ${s(quantile(f.drainMs, 0.95))}, max ${s(max(f.drainMs))}. Capture → synced, median / p95: urgent ${s(quantile(f.waitMs.urgent, 0.5))} / ${s(quantile(f.waitMs.urgent, 0.95))}, routine ${s(quantile(f.waitMs.routine, 0.5))} / ${s(quantile(f.waitMs.routine, 0.95))}.`,
  ].join('\n');
}
