import { truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { connect } from 'amqplib';
import { AuditEventListSchema, XrayEventSchema, XrayListSchema } from '@xray/shared';
import { z } from 'zod';
import {
  api,
  banner,
  captureForm,
  captureSignedIn,
  expectAccessible,
  openApp,
  queueItems,
  screenshot,
  signInThroughIssuer,
  tab,
  unlockShift,
  waitForServiceWorker,
} from '../support/app-page.ts';
import { deployNewVersion } from '../support/deploy.ts';
import { downloadSha256, readOriginal, stackInfo } from '../support/edge-page.ts';

/**
 * The paramedics' app itself (apps/edge, as `npm start` serves it) in Chromium at the tablet's
 * 1280×800 with touch, against the real stack: sync server on PostgreSQL and Swift s3api, the
 * dev OIDC issuer's login form, the dev Patient and Doctor Services, RabbitMQ.
 */
const stack = stackInfo();
const { files } = stack;

test.use({ viewport: { width: 1280, height: 800 }, hasTouch: true });

const ReceivedSchema = z.object({ accepted: z.array(XrayEventSchema) });

test('the whole flow: sign in, offline reload, capture 3 X-rays, online they sync; the doctor lists and downloads them; the Doctor Service and RabbitMQ got 3 events; the audit log has it all', async ({
  page,
  context,
}) => {
  const patient = 'P-1001';
  // This run's X-rays of the patient (the stack is shared: other tests and repeats add their own).
  const since = new Date(Date.now() - 1000).toISOString();
  // RabbitMQ: a queue of our own on the server's exchange, bound before anything is uploaded.
  const amqp = await connect(stack.amqp.url);
  const channel = await amqp.createChannel();
  await channel.assertExchange(stack.amqp.exchange, 'topic', { durable: true });
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, stack.amqp.exchange, 'xray.uploaded');
  const published: string[] = [];
  await channel.consume(queue, (msg) => {
    if (!msg) return;
    const event = XrayEventSchema.safeParse(JSON.parse(msg.content.toString('utf8')));
    if (event.success && event.data.type === 'xray.uploaded' && event.data.data.xray.patientId === patient)
      published.push(event.data.xrayId);
  });

  {
    // First visit: signed out, the sign-in screen.
    await openApp(page, stack);
    await expect(page.getByRole('heading', { name: 'Sign in', level: 1 })).toBeVisible();
    await expect(banner(page)).toContainText('Sign-in needed');
    await expectAccessible(page, 'sign-in');

    await signInThroughIssuer(page, stack, 'Pat Paramedic');
    await waitForServiceWorker(page);
    // The roster arrives in the background after the sign-in (kept encrypted for offline search).
    await tab(page, 'Capture').click();
    await captureForm(page).patientId.fill('kel');
    await expect(page.getByRole('list', { name: 'Matching patients' })).toContainText('Maria Keller');
    await captureForm(page).patientId.fill('');

    // No network: the app shell still loads (service worker), still signed in (sealed session).
    await context.setOffline(true);
    await page.reload();
    await expect(page.locator('body[data-ready="true"]')).toBeAttached();
    await expect(banner(page)).toContainText('Offline');
    // A reload locks the device's keys (they live in memory only): the shift PIN opens them, offline.
    await unlockShift(page);
    await expect(banner(page)).toContainText('Signed in as Pat Paramedic');
    await screenshot(page, 'offline-banner');

    // Capture 3 X-rays with the form (typed patient id: offline, no list to pick from).
    await tab(page, 'Capture').click();
    const f = captureForm(page);
    await page.getByLabel('Choose X-ray files').setInputFiles([files.dicom18.path, files.png.path, files.jpeg.path]);
    await expect(page.getByTestId('current-file')).toContainText('chest-18mb.dcm');
    // The DICOM header filled the form.
    await expect(f.patientId).toHaveValue('P-E2E-DICOM');
    await expect(f.bodyPart).toHaveValue('CHEST');
    await expect(f.view).toHaveValue('PA');
    await expect(page.getByRole('img', { name: 'Preview of chest-18mb.dcm' })).toBeVisible();
    // Offline, the roster fetched at sign-in is searched on the device.
    await f.patientId.fill(patient);
    await expect(page.getByText('Maria Keller, born 1957-03-14.')).toBeVisible();
    // The file names someone else: held until the paramedic decides (keep the chosen one, why).
    await expect(page.getByTestId('patient-hold')).toContainText('The file names patient P-E2E-DICOM, not P-1001.');
    await expect(f.save).toBeDisabled();
    await page.getByTestId('patient-hold').getByRole('button', { name: 'Keep P-1001' }).click();
    await page.getByLabel('Why keep P-1001?').fill('Test detector names every image P-E2E-DICOM');
    await f.urgent.check();
    await f.notes.fill('Fall from ladder, suspected rib fracture');
    await screenshot(page, 'capture');
    await expectAccessible(page, 'capture');
    await f.save.click();
    await expect(f.notice).toContainText('Saved chest-18mb.dcm (CHEST PA) for patient P-1001, urgent: queued to send.');

    await expect(page.getByTestId('current-file')).toContainText('hand.png');
    await expect(page.getByRole('img', { name: 'Preview of hand.png' })).toBeVisible();
    // Nothing carries over silently: one tap for the same patient; urgency starts routine again.
    await expect(f.patientId).toHaveValue('');
    await expect(f.urgent).not.toBeChecked();
    await page.getByRole('button', { name: 'Same patient: Maria Keller' }).click();
    await expect(f.patientId).toHaveValue(patient);
    await f.bodyPart.selectOption('HAND');
    await f.view.selectOption('PA');
    await f.save.click();
    await expect(f.notice).toContainText('Saved hand.png (HAND PA) for patient P-1001: queued to send.');

    await expect(page.getByTestId('current-file')).toContainText('knee.jpg');
    await page.getByRole('button', { name: 'Same patient: Maria Keller' }).click();
    await f.bodyPart.selectOption('KNEE');
    await f.view.selectOption('LAT');
    await f.save.click();
    await expect(f.notice).toContainText('Saved knee.jpg (KNEE LAT) for patient P-1001: queued to send.');
    await expect(page.getByText('No file chosen yet.')).toBeVisible();

    // Queued, all three, while offline.
    await tab(page, 'Queue').click();
    await expect(queueItems(page)).toHaveCount(3);
    for (const item of await queueItems(page).all()) await expect(item).toHaveAttribute('data-status', 'queued');
    await expect(queueItems(page).filter({ hasText: 'P-1001 · CHEST PA' })).toContainText('Urgent');
    await expect(banner(page)).toContainText('3 waiting to send');
    await expectAccessible(page, 'queue');

    // Online: the queue sends itself (urgent DICOM first); one look mid-sync. The uplink is held
    // to an ambulance's 6 MB/s (DevTools throttling) so the look does not depend on the machine.
    await context.setOffline(false);
    const cdp = await context.newCDPSession(page);
    const uplink = (bytesPerSecond: number) =>
      cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: bytesPerSecond,
      });
    await uplink(6 * 1024 * 1024);
    await page.waitForFunction(
      () => {
        const bar = document.querySelector('[data-status="uploading"] [role="progressbar"]');
        const value = Number(bar?.getAttribute('aria-valuenow') ?? 0);
        return value > 0 && value < 100;
      },
      undefined,
      { polling: 50, timeout: 60_000 },
    );
    await screenshot(page, 'queue-mid-sync');
    await uplink(-1);
    await expect(page.locator('[data-testid="queue-item"][data-status="synced"]')).toHaveCount(3, { timeout: 120_000 });
    await expect(banner(page)).toContainText('All sent.');
    await expect(banner(page)).not.toContainText('Last sync: never');
  }

  // The doctor, through the REST API: list by patient, download each (bytes equal).
  const list = XrayListSchema.parse(
    await api(stack, stack.tokens.doctor, `/xrays?patientId=${encodeURIComponent(patient)}&from=${since}`),
  );
  expect(list.items.map((x) => x.sha256).sort()).toEqual(
    [files.dicom18.sha256, files.png.sha256, files.jpeg.sha256].sort(),
  );
  const byType = new Map(list.items.map((x) => [x.contentType, x]));
  expect(byType.get('application/dicom')).toMatchObject({
    bodyPart: 'CHEST',
    view: 'PA',
    priority: 'urgent',
    notes: 'Fall from ladder, suspected rib fracture',
    capturedBy: { sub: 'demo-paramedic' },
    link: { status: 'verified', decision: { choice: 'keep_chosen_patient' } },
  });
  expect(byType.get('image/png')).toMatchObject({ bodyPart: 'HAND', view: 'PA', priority: 'routine' });
  expect(byType.get('image/jpeg')).toMatchObject({ bodyPart: 'KNEE', view: 'LAT' });
  for (const x of list.items) expect(await downloadSha256(stack, x.id)).toBe(x.sha256);
  const ids = list.items.map((x) => x.id).sort();

  // The Doctor Service was told about each one (signed webhook), and RabbitMQ carried the same.
  await expect
    .poll(
      async () => {
        const received = ReceivedSchema.parse(await (await fetch(stack.doctorReceivedUrl)).json());
        return received.accepted
          .filter((e) => e.type === 'xray.uploaded' && ids.includes(e.xrayId))
          .map((e) => e.xrayId)
          .sort();
      },
      { timeout: 30_000 },
    )
    .toEqual(ids);
  await expect.poll(() => [...new Set(published)].sort(), { timeout: 30_000 }).toEqual(ids);
  await channel.close();
  await amqp.close();

  // The audit log, as admin: the paramedic created them, the doctor listed and downloaded them.
  const audit = async (query: string) =>
    AuditEventListSchema.parse(await api(stack, stack.tokens.admin, `/audit?${query}&limit=500`)).items;
  const creates = await audit('action=xray.create&actor=demo-paramedic&outcome=success');
  expect(
    creates
      .map((e) => e.xrayId)
      .filter((id) => id && ids.includes(id))
      .sort(),
  ).toEqual(ids);
  const downloads = await audit('action=xray.download&actor=demo-doctor&outcome=success');
  for (const id of ids) expect(downloads.map((e) => e.xrayId)).toContain(id);
  const lists = await audit('action=xray.list&actor=demo-doctor&outcome=success');
  expect(lists.length).toBeGreaterThan(0);
});

test('a file is encrypted while its details are typed: one discarded meanwhile is not stored, the one saved survives a reload and reaches the server byte for byte', async ({
  page,
  context,
}) => {
  const since = new Date(Date.now() - 1000).toISOString();
  const f = await captureSignedIn(page, stack);
  await context.setOffline(true);

  // The DICOM is being sealed once its preview is drawn; discarded, the PNG comes next.
  await page.getByLabel('Choose X-ray files').setInputFiles([files.dicom18.path, files.png.path]);
  await expect(page.getByRole('img', { name: 'Preview of chest-18mb.dcm' })).toBeVisible();
  await page.getByRole('button', { name: 'Discard this file' }).click();
  await expect(page.getByTestId('current-file')).toContainText('hand.png');
  await f.patientId.fill('P-1001');
  await f.bodyPart.selectOption('HAND');
  await f.view.selectOption('PA');
  await f.save.click();
  await expect(f.notice).toContainText('Saved hand.png (HAND PA) for patient P-1001: queued to send.');

  // "Queued" means stored: a reload (which locks the device) still has it, and only it.
  await page.reload();
  await expect(page.locator('body[data-ready="true"]')).toBeAttached();
  await unlockShift(page);
  await tab(page, 'Queue').click();
  await expect(queueItems(page)).toHaveCount(1);
  await expect(queueItems(page).first()).toHaveAttribute('data-status', 'queued');
  await expect(queueItems(page).first()).toContainText('hand.png');

  await context.setOffline(false);
  await expect(queueItems(page).first()).toHaveAttribute('data-status', 'synced', { timeout: 120_000 });
  const list = XrayListSchema.parse(
    await api(stack, stack.tokens.doctor, `/xrays?patientId=P-1001&from=${encodeURIComponent(since)}`),
  );
  expect(list.items.map((x) => x.sha256)).toEqual([files.png.sha256]);
  expect(await downloadSha256(stack, list.items[0]!.id)).toBe(files.png.sha256);
});

test('bad input shows a clear message and queues nothing broken; a good capture then waits for sign-in', async ({
  page,
}) => {
  await openApp(page, stack);
  await tab(page, 'Capture').click();
  const f = captureForm(page);
  const picker = page.getByLabel('Choose X-ray files');

  // Not an image (whatever its name says).
  await picker.setInputFiles([
    { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('BP 120/80, pulse 92\n') },
    { name: 'fake.png', mimeType: 'image/png', buffer: Buffer.from('this is not a PNG at all, just text') },
  ]);
  await expect(page.getByTestId('file-problems')).toContainText(
    'notes.txt is not an X-ray image: use DICOM, PNG or JPEG files.',
  );
  await expect(page.getByTestId('file-problems')).toContainText('fake.png is not an X-ray image');
  await expect(page.getByText('No file chosen yet.')).toBeVisible();

  // 2 GB, over the server's limit: refused at once (a sparse file: nothing of it is read).
  const big = path.join(stack.filesDir, 'huge-2gb.dcm');
  await writeFile(big, await readOriginal(files.png.path));
  await truncate(big, 2 * 1024 * 1024 * 1024);
  await picker.setInputFiles(big);
  await expect(page.getByTestId('file-problems')).toContainText(
    'huge-2gb.dcm is 2.1 GB: the server accepts X-rays up to 1.1 GB.',
  );
  await expect(page.getByText('No file chosen yet.')).toBeVisible();

  // Save with no file, then a dropped PNG with no patient id: the schema's message, nothing stored.
  await f.save.click();
  await expect(f.problem).toHaveText('Choose an X-ray file first.');
  const png = Buffer.from(await readOriginal(files.png.path)).toString('base64');
  const dataTransfer = await page.evaluateHandle((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'dropped-hand.png', { type: 'image/png' }));
    return dt;
  }, png);
  await page.getByTestId('drop-zone').dispatchEvent('drop', { dataTransfer });
  await expect(page.getByTestId('current-file')).toContainText('dropped-hand.png');
  await expect(page.getByRole('img', { name: 'Preview of dropped-hand.png' })).toBeVisible();
  await f.bodyPart.selectOption('HAND');
  await f.view.selectOption('AP');
  await f.save.click();
  await expect(f.problem).toContainText('Patient ID is required.');
  await expect(page.locator('#patientId-error')).toHaveText('Patient ID is required.');
  await expect(f.patientId).toHaveAttribute('aria-invalid', 'true');
  await expectAccessible(page, 'capture (with errors)');
  await tab(page, 'Queue').click();
  await expect(page.getByTestId('queue-summary')).toHaveText('Nothing captured on this device yet.');

  // Never signed in, so no patient list on this device: a typed id holds until kept with a reason.
  await tab(page, 'Capture').click();
  await f.patientId.fill('P-1001');
  await expect(page.locator('#patientId-hint')).toContainText(/No patient list on this device yet|Patient list hidden/);
  await expect(page.getByTestId('patient-hold')).toContainText("P-1001 is not on this device's patient list.");
  await expect(f.save).toBeDisabled();
  await page.getByTestId('patient-hold').getByRole('button', { name: 'Keep P-1001' }).click();
  await page.getByLabel('Why keep P-1001?').fill('Patient known to the crew');
  await f.consultation.fill('C-2001');
  await f.save.click();
  await expect(f.notice).toContainText('Saved dropped-hand.png (HAND AP) for patient P-1001: queued to send.');

  // Exactly one capture, waiting for a sign-in. No one ever signed in on this device (no shift
  // PIN, no server contact), so its patient details stay closed until someone does.
  await tab(page, 'Queue').click();
  await expect(queueItems(page)).toHaveCount(1);
  await expect(queueItems(page).first()).toHaveAttribute('data-status', 'queued');
  await expect(queueItems(page).first()).toContainText('Patient details locked');
  await expect(queueItems(page).first()).toContainText('1.3 MB');
  await expect(page.getByTestId('details-locked')).toContainText('Patient details are locked');
  await expect(banner(page)).toContainText('Sign-in needed');

  // Settings: plain HTTP to another machine is refused, with the reason.
  await tab(page, 'Settings').click();
  await page.getByLabel('Server address').fill('http://xray.example.org');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.locator('#serverUrl-error')).toHaveText(
    'Server address must use HTTPS (plain HTTP only for localhost).',
  );
  await page.getByLabel(/Keep synced X-rays/).fill('0');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.locator('#retentionDays-error')).toHaveText('Keep synced X-rays must be at least 1 day.');
  await expectAccessible(page, 'settings');
});

test('a capture the server refuses (signed in as a doctor) needs attention with its message; signed in as the paramedic, "Fix and resend" sends it', async ({
  page,
}) => {
  await openApp(page, stack);
  await signInThroughIssuer(page, stack, 'Dana Doctor');
  await tab(page, 'Capture').click();
  const f = captureForm(page);
  await page.getByLabel('Choose X-ray files').setInputFiles(files.jpeg.path);
  await f.patientId.fill('P-1003');
  // A doctor gets no patient roster: the typed id is kept with a reason.
  await page.getByTestId('patient-hold').getByRole('button', { name: 'Keep P-1003' }).click();
  await page.getByLabel('Why keep P-1003?').fill('Known patient');
  await f.bodyPart.selectOption('KNEE');
  await f.view.selectOption('AP');
  await f.save.click();
  await expect(f.notice).toContainText('queued to send');

  await tab(page, 'Queue').click();
  const item = queueItems(page).first();
  await expect(item).toHaveAttribute('data-status', 'needs-attention', { timeout: 60_000 });
  await expect(item.getByTestId('needs-attention')).toContainText('The server did not accept this X-ray');
  await expect(item.getByTestId('needs-attention')).toContainText('Your roles (doctor) do not allow upload.create');
  await expectAccessible(page, 'queue (needs attention)');

  await signInThroughIssuer(page, stack, 'Pat Paramedic');
  await tab(page, 'Queue').click();
  await item.getByRole('button', { name: 'Fix and resend' }).click();
  // The fix form holds a patient off the roster like the capture form does: nothing resends.
  await item.getByLabel('Patient ID').fill('P-1O03');
  await expect(item.getByTestId('patient-hold')).toContainText("P-1O03 is not on this device's patient list.");
  await expect(item.getByRole('button', { name: 'Resend' })).toBeDisabled();
  await item.getByLabel('Patient ID').fill('P-1003');
  await expect(item.getByTestId('patient-hold')).toHaveCount(0);
  await item.getByLabel('Body part').selectOption('KNEE');
  await item.getByLabel('View').selectOption('LAT');
  await item.getByRole('button', { name: 'Resend' }).click();
  await expect(item).toHaveAttribute('data-status', 'synced', { timeout: 60_000 });
  await expect(item).toContainText('P-1003 · KNEE LAT');
});

test('a new deployment: the service worker installs it in the background and the app offers to reload into it', async ({
  page,
}) => {
  await openApp(page, stack);
  await waitForServiceWorker(page);
  await tab(page, 'Settings').click();
  await expect(page.getByText('Version e2e-1')).toBeVisible();
  await expect(page.getByTestId('update-prompt')).toHaveCount(0);

  await deployNewVersion(stack.siteDir, 'e2e-2');
  await page.getByRole('button', { name: 'Check for a new version' }).click();
  await expect(page.getByTestId('update-prompt')).toContainText('A new version of the app is ready.', {
    timeout: 60_000,
  });
  await page.getByRole('button', { name: 'Reload to update' }).click();
  await expect(page.locator('body[data-ready="true"]')).toBeAttached();
  await tab(page, 'Settings').click();
  await expect(page.getByText('Version e2e-2')).toBeVisible({ timeout: 30_000 });
});
