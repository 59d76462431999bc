import { expect, test, type Page } from '@playwright/test';
import { AuditEventListSchema, DeviceListSchema, type Device } from '@xray/shared';
import { api, captureForm, openApp, queueItems, signInThroughIssuer, tab } from '../support/app-page.ts';
import { stackInfo } from '../support/edge-page.ts';

/**
 * A lost tablet: the app enrolls itself at sign-in (its DPoP key), captures and syncs with
 * device-bound tokens; an administrator revokes it; its next sync is refused `device_revoked`
 * and the app crypto-shreds itself, says why and what was lost, and reports the wipe.
 */
const stack = stackInfo();
const { files } = stack;

test.use({ viewport: { width: 1280, height: 800 }, hasTouch: true });

/** Every object store of the app's database, read back through the page (IndexedDB API). */
async function readDatabase(page: Page): Promise<Record<string, { keys: unknown[]; values: unknown[] }>> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open('xray-edge');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error ?? new Error('open failed'));
    });
    const out: Record<string, { keys: unknown[]; values: unknown[] }> = {};
    for (const name of Array.from(db.objectStoreNames)) {
      const store = db.transaction(name, 'readonly').objectStore(name);
      const [keys, values] = await Promise.all(
        [store.getAllKeys(), store.getAll()].map(
          (r) =>
            new Promise<unknown[]>((resolve, reject) => {
              r.onsuccess = () => resolve(r.result);
              r.onerror = () => reject(r.error ?? new Error('read failed'));
            }),
        ),
      );
      // CryptoKeys are not cloneable out of the page: describe them.
      out[name] = {
        keys: keys ?? [],
        values: (values ?? []).map((v) =>
          JSON.parse(JSON.stringify(v, (_k, x: unknown) => (x instanceof CryptoKey ? `CryptoKey:${x.type}` : x))),
        ),
      };
    }
    db.close();
    return out;
  });
}

async function captureFile(page: Page, path: string, patient: string, bodyPart: string, view: string): Promise<void> {
  await tab(page, 'Capture').click();
  const f = captureForm(page);
  await page.getByLabel('Choose X-ray files').setInputFiles([path]);
  await f.patientId.fill(patient);
  await f.bodyPart.selectOption(bodyPart);
  await f.view.selectOption(view);
  await f.save.click();
  await expect(f.notice).toContainText('queued to send');
}

test('a revoked tablet: enrolled at sign-in, syncs with DPoP; revoked, its next sync is refused and it wipes itself; the audit log has enroll, revoke and wipe', async ({
  page,
}) => {
  const since = new Date(Date.now() - 1000).toISOString();
  await openApp(page, stack);
  await signInThroughIssuer(page, stack, 'Pat Paramedic');
  // The shift PIN the app asks for after the first sign-in.
  const pinTitle = page.getByRole('heading', { name: 'Choose a shift PIN' });
  if (await pinTitle.isVisible()) {
    await page.getByLabel('PIN', { exact: true }).fill('482916');
    await page.getByLabel('PIN again').fill('482916');
    await page.getByRole('button', { name: 'Set PIN' }).click();
    await expect(pinTitle).toBeHidden();
  }

  // Enrolled: the device the app registered, under the name it gave.
  const deviceName = await page.evaluate(() => `Edge ${localStorage.getItem('xray-edge.device-id') ?? ''}`);
  const devices = async () => DeviceListSchema.parse(await api(stack, stack.tokens.admin, '/admin/devices')).items;
  let device: Device | undefined;
  await expect
    .poll(async () => (device = (await devices()).find((d) => d.name === deviceName)) !== undefined)
    .toBe(true);
  const enrolled: Device =
    device ??
    (() => {
      throw new Error('not enrolled');
    })();
  expect(enrolled).toMatchObject({ enrolledBy: 'demo-paramedic', revoked: null, wipe: null });

  // Capture and sync, with tokens bound to the device key.
  await captureFile(page, files.png.path, 'P-1001', 'HAND', 'PA');
  await tab(page, 'Queue').click();
  await expect(queueItems(page).first()).toHaveAttribute('data-status', 'synced', { timeout: 60_000 });

  // An administrator revokes the tablet.
  const revoked = await fetch(`${stack.url}/admin/devices/${enrolled.id}/revoke`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${stack.tokens.admin}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ reason: 'Reported stolen from ambulance 12' }),
  });
  expect(revoked.status).toBe(200);

  // The next capture's sync is refused: the app wipes itself and says why and what was lost.
  await captureFile(page, files.jpeg.path, 'P-1001', 'KNEE', 'LAT');
  const notice = page.getByTestId('wiped');
  await expect(notice).toBeVisible({ timeout: 60_000 });
  await expect(notice).toContainText('This device was revoked by an administrator and its data was wiped');
  await expect(notice).toContainText('1 capture not yet sent was lost.');
  await expect(notice).toContainText('The server was told.');

  // Through the page: no key of any kind, no capture, no ciphertext, no session; only the notice.
  const stored = await readDatabase(page);
  for (const store of ['keys', 'captures', 'blobs', 'uploads']) expect(stored[store]?.keys ?? [], store).toEqual([]);
  // Settings keep only what the app wrote since (engine status, last server contact) and the notice:
  // no session, no key vault, no roster, no enrollment.
  const settings = stored.settings?.keys ?? [];
  expect(settings).toContain('wiped');
  for (const secret of ['session', 'vault', 'roster', 'device']) expect(settings).not.toContain(secret);
  expect(JSON.stringify(stored)).not.toContain('CryptoKey');

  // The server's side: the wipe is on the device, and the audit log holds enroll, revoke, wipe.
  const after = (await devices()).find((d) => d.id === enrolled.id);
  expect(after?.revoked?.reason).toBe('Reported stolen from ambulance 12');
  expect(after?.wipe).toMatchObject({ unsentCaptures: 1 });
  const trail = async (action: string) =>
    AuditEventListSchema.parse(
      await api(stack, stack.tokens.admin, `/audit?action=${action}&from=${since}&limit=100`),
    ).items.filter((e) => e.details.deviceId === enrolled.id);
  expect(await trail('device.enroll')).toHaveLength(1);
  expect(await trail('device.revoke')).toHaveLength(1);
  expect(await trail('device.wipe')).toMatchObject([{ outcome: 'success', details: { unsentCaptures: 1 } }]);
  const refused = AuditEventListSchema.parse(
    await api(stack, stack.tokens.admin, `/audit?action=access.denied&from=${since}&limit=100`),
  ).items.filter((e) => e.details.error === 'device_revoked');
  expect(refused.length).toBeGreaterThan(0);
});
