/**
 * Real faults put into a finished soak run's stack, after its checks, to show that the checks see
 * them: the run gathers its evidence again and must fail. Soak-only (run.ts's `tamper` option,
 * `npm run soak -- --tamper`, and the 3-minute soak in `npm test`); nothing in the servers is
 * changed for it — each fault is done the way an outage or a bug would leave it: straight in the
 * run's database and bucket.
 */
import { randomUUID } from 'node:crypto';
import { CopyObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type pg from 'pg';
import type { Tampering } from './checks.ts';

/** Needs at least five X-rays stored. Returns what it did, each with the check it must turn red. */
export async function tamper(deps: { pool: pg.Pool; s3: S3Client; bucket: string }): Promise<Tampering[]> {
  const { pool, s3, bucket } = deps;
  const rows = (await pool.query<{ id: string; object_key: string }>('SELECT id, object_key FROM xrays ORDER BY id'))
    .rows;
  if (rows.length < 5) throw new Error(`tamper needs 5 X-rays stored, the run has ${rows.length}`);
  const [lost, doubled, relabelled, corrupted, eventless] = rows as [
    (typeof rows)[number],
    (typeof rows)[number],
    (typeof rows)[number],
    (typeof rows)[number],
    (typeof rows)[number],
  ];
  const done: Tampering[] = [];

  // Lost: the X-ray's row gone (its bytes, event and audit record stay behind).
  await pool.query('DELETE FROM xrays WHERE id = $1', [lost.id]);
  done.push({ name: `X-ray ${lost.id} deleted from xrays`, check: 'every capture stored once', names: lost.id });

  // Doubled: the same X-ray stored again under another id, bytes copied (what a finalize that
  // forgot the capture's id would leave).
  const twinId = randomUUID();
  const twinKey = `xrays/${twinId}/${doubled.object_key.split('/').pop()}`;
  await s3.send(new CopyObjectCommand({ Bucket: bucket, CopySource: `${bucket}/${doubled.object_key}`, Key: twinKey }));
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('CREATE TEMP TABLE soak_twin ON COMMIT DROP AS SELECT * FROM xrays WHERE id = $1', [doubled.id]);
    // change_seq NULL: the server's safety-net trigger numbers the row at COMMIT, as it numbers a
    // write that bypassed the service (its change number is unique).
    await c.query('UPDATE soak_twin SET id = $1, object_key = $2, change_seq = NULL', [twinId, twinKey]);
    await c.query('INSERT INTO xrays SELECT * FROM soak_twin');
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
  done.push({
    name: `X-ray ${doubled.id} stored again as ${twinId}`,
    check: 'every capture stored once',
    names: twinId,
  });

  // Altered, as recorded: the row's sha256 no longer the capture's.
  await pool.query(`UPDATE xrays SET sha256 = repeat('0', 64) WHERE id = $1`, [relabelled.id]);
  done.push({
    name: `sha256 of ${relabelled.id} overwritten`,
    check: 'recorded sha256 equals the capture’s',
    names: relabelled.id,
  });

  // Altered, in the store: one byte of the stored object flipped.
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: corrupted.object_key }));
  const bytes = Buffer.from(await got.Body!.transformToByteArray());
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: corrupted.object_key, Body: bytes }));
  done.push({
    name: `one byte of ${corrupted.object_key} flipped`,
    check: 'downloaded bytes sha256-equal',
    names: corrupted.id,
  });

  // An X-ray's event lost from the outbox.
  await pool.query(`DELETE FROM outbox_events WHERE type = 'xray.uploaded' AND xray_id = $1`, [eventless.id]);
  done.push({
    name: `xray.uploaded of ${eventless.id} deleted from the outbox`,
    check: 'one xray.uploaded event per X-ray',
    names: eventless.id,
  });

  // An event the outbox holds as delivered that neither sink ever received.
  const ghost = randomUUID();
  await pool.query(`INSERT INTO outbox_events (id, type, xray_id, payload) VALUES ($1, 'soak.tamper', NULL, '{}')`, [
    ghost,
  ]);
  await pool.query(
    `INSERT INTO outbox_deliveries (event_id, sink, state, delivered_at)
     SELECT $1, sink, 'delivered', now() FROM (SELECT DISTINCT sink FROM outbox_deliveries) s`,
    [ghost],
  );
  done.push(
    {
      name: `event ${ghost} marked delivered, never sent`,
      check: 'every event id at the Doctor Service (webhook)',
      names: ghost,
    },
    { name: `event ${ghost} marked delivered, never sent`, check: 'every event id on RabbitMQ', names: ghost },
  );

  // The audit trail edited: one event's details changed (past its append-only trigger, as the
  // database's owner can).
  const c2 = await pool.connect();
  try {
    await c2.query('BEGIN');
    await c2.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete');
    const { rows: edited } = await c2.query<{ id: string }>(
      `UPDATE audit_events SET details = details || '{"soak":"tampered"}'
        WHERE id = (SELECT id FROM audit_events ORDER BY id OFFSET (SELECT count(*) / 2 FROM audit_events) LIMIT 1)
        RETURNING id`,
    );
    await c2.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete');
    await c2.query('COMMIT');
    done.push({ name: `audit event ${edited[0]?.id} edited`, check: 'xray-admin verify-audit', names: 'BROKEN' });
  } catch (err) {
    await c2.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c2.release();
  }

  // An object left in the bucket that belongs to nothing.
  const stray = `xrays/${randomUUID()}/stray.bin`;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: stray, Body: Buffer.from('stray') }));
  done.push({ name: `object ${stray} put`, check: 'no upload leftovers after expiry', names: stray });
  return done;
}
