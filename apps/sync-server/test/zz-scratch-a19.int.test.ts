import { makeDicom } from '@xray/testkit';
import { expect, it } from 'vitest';
import { headerActor, startTestServer } from './harness.ts';

it('partial', async () => {
  const server = await startTestServer('fs', {}, { authenticate: headerActor });
  try {
    const b = 'bnd';
    const one = makeDicom({ rows: 16, columns: 16, seed: 5, patientId: 'P-5' });
    const two = makeDicom({ rows: 16, columns: 16, seed: 6, patientId: 'P-6' });
    const body = Buffer.concat([
      Buffer.from(`--${b}\r\nContent-Type: application/dicom\r\n\r\n`), one,
      Buffer.from(`\r\n--${b}\r\nContent-Type: application/dicom\r\n\r\n`), two.subarray(0, 500),
    ]);
    const res = await fetch(`${server.url}/dicom-web/studies`, { method: 'POST', headers: { 'X-Test-Actor': 'm; paramedic', 'content-type': `multipart/related; type="application/dicom"; boundary=${b}` }, body });
    console.log('status', res.status, await res.text());
    const { rows } = await server.pool.query(`SELECT id, patient_id FROM xrays`);
    console.log('rows', JSON.stringify(rows));
    const ev = await server.pool.query(`SELECT action, outcome, details->>'error' e FROM audit_events ORDER BY id`);
    console.log('audit', JSON.stringify(ev.rows));
    expect(1).toBe(1);
  } finally {
    await server.close();
  }
});
