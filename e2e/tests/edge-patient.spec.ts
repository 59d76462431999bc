import path from 'node:path';
import { expect, test, type Page, type Request } from '@playwright/test';
import { AuditEventListSchema, XrayListSchema, XraySchema } from '@xray/shared';
import { makePng, writeDicom } from '@xray/testkit';
import { writeFile } from 'node:fs/promises';
import {
  api,
  banner,
  captureForm,
  openApp,
  queueItems,
  screenshot,
  signInThroughIssuer,
  tab,
  unlockShift,
  waitForServiceWorker,
} from '../support/app-page.ts';
import { stackInfo } from '../support/edge-page.ts';
import { E2E_PATIENT_ID_ISSUER } from '../support/stack.ts';

/**
 * The right patient (issue 18), in the paramedics' app against the real stack (sync server on
 * PostgreSQL and Swift, the dev OIDC issuer and the dev Patient Service behind GET /roster):
 * the roster kept encrypted for offline search, the wrong-patient hold, and the server's
 * "patient not found" coming back to the device with its fix.
 */
const stack = stackInfo();

test.use({ viewport: { width: 1280, height: 800 }, hasTouch: true });

/** Every request to the sync server's upload or X-ray routes the page makes. */
function watchSends(page: Page): Request[] {
  const sent: Request[] = [];
  page.on('request', (r) => {
    const { pathname } = new URL(r.url());
    if (pathname.startsWith('/uploads') || (pathname.startsWith('/xrays') && r.method() !== 'GET')) sent.push(r);
  });
  return sent;
}

/** The roster row as IndexedDB holds it, and whether any of its bytes spell a patient's name. */
async function storedRosterHasPlaintext(page: Page, words: string[]): Promise<{ stored: boolean; plaintext: boolean }> {
  return page.evaluate(async (names) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open('xray-edge');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const row = await new Promise<unknown>((resolve, reject) => {
      const req = db.transaction('settings').objectStore('settings').get('roster');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    db.close();
    if (!row) return { stored: false, plaintext: false };
    const value = (row as { value: Record<string, unknown> }).value;
    const texts = [JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? undefined : v))];
    for (const v of Object.values(value)) if (v instanceof Uint8Array) texts.push(new TextDecoder('latin1').decode(v));
    return { stored: true, plaintext: texts.some((t) => names.some((n) => t.includes(n))) };
  }, words);
}

async function signInForRoster(page: Page): Promise<void> {
  await openApp(page, stack);
  await signInThroughIssuer(page, stack, 'Pat Paramedic');
  // The roster arrives in the background after the sign-in, sealed in IndexedDB.
  await expect
    .poll(async () => (await storedRosterHasPlaintext(page, ['Keller'])).stored, { timeout: 30_000 })
    .toBe(true);
}

test('the roster is kept encrypted and searched offline after a reload: a few letters, one tap, name and birth date beside the file’s own', async ({
  page,
  context,
}) => {
  await signInForRoster(page);
  expect(await storedRosterHasPlaintext(page, ['Keller', 'Maria', 'Novak', '1957-03-14'])).toEqual({
    stored: true,
    plaintext: false,
  });
  await waitForServiceWorker(page);

  await context.setOffline(true);
  await page.reload();
  await expect(page.locator('body[data-ready="true"]')).toBeAttached();
  await expect(banner(page)).toContainText('Offline');
  // A reload locks the device: the roster's names open with the shift PIN.
  await unlockShift(page);
  await tab(page, 'Capture').click();
  const f = captureForm(page);
  const dicom = path.join(stack.filesDir, 'keller-chest.dcm');
  await writeDicom(dicom, { rows: 256, columns: 256, seed: 181, patientId: 'P-1001', patientName: 'KELLER^MARIA' });
  await page.getByLabel('Choose X-ray files').setInputFiles(dicom);
  // The file named P-1001: on the roster, so the chosen patient is shown beside the file's own fields.
  await expect(f.patientId).toHaveValue('P-1001');
  const compare = page.getByTestId('patient-compare');
  await expect(compare).toContainText('Maria Keller, born 1957-03-14');
  await expect(compare).toContainText('KELLER, MARIA');
  await expect(page.getByTestId('patient-hold')).toHaveCount(0);

  // Another patient by name, offline: three letters and a tap.
  await f.patientId.fill('nov');
  const choices = page.getByRole('list', { name: 'Matching patients' });
  await expect(choices.getByRole('button')).toHaveCount(1);
  await screenshot(page, 'roster-offline');
  await choices.getByRole('button', { name: /Peter Novak/ }).click();
  await expect(f.patientId).toHaveValue('P-1004');
  await expect(page.getByText('Peter Novak, born 1941-09-30.')).toBeVisible();
  // Consultations come from the roster too, and only for a patient on it.
  await expect(page.getByRole('list', { name: 'Open consultations' })).toContainText('C-2005');
  // By id, with a glove's typo (O for 0).
  await f.patientId.fill('1OO2');
  await expect(choices.getByRole('button', { name: /Jonas Weber/ })).toBeVisible();
  // Text that names nobody: no list, no consultation look-up.
  await f.patientId.fill('Web x');
  await expect(choices).toHaveCount(0);
  await expect(page.getByRole('list', { name: 'Open consultations' })).toHaveCount(0);
  await context.setOffline(false);
});

test('wrong patient: nothing leaves the device until the paramedic decides; the decision reaches the server and its audit trail', async ({
  page,
}) => {
  await signInForRoster(page);
  const sent = watchSends(page);
  const dicom = path.join(stack.filesDir, 'schmidt-hand.dcm');
  const file = await writeDicom(dicom, {
    rows: 256,
    columns: 256,
    seed: 182,
    patientId: 'P-1005',
    patientName: 'SCHMIDT^LEA',
    bodyPart: 'HAND',
  });
  await tab(page, 'Capture').click();
  const f = captureForm(page);
  await page.getByLabel('Choose X-ray files').setInputFiles(dicom);
  await expect(f.patientId).toHaveValue('P-1005');
  // The paramedic picks the patient they are treating: not the one the detector named.
  await f.patientId.fill('novak');
  await page
    .getByRole('list', { name: 'Matching patients' })
    .getByRole('button', { name: /Peter Novak/ })
    .click();
  const hold = page.getByTestId('patient-hold');
  await expect(hold).toContainText('The file names patient P-1005, not P-1004.');
  await expect(f.save).toBeDisabled();
  await expect(hold).toBeInViewport();
  await screenshot(page, 'patient-hold');
  await f.bodyPart.selectOption('HAND');
  await f.view.selectOption('PA');
  await expect(f.save).toBeDisabled();
  await tab(page, 'Queue').click();
  await expect(queueItems(page)).toHaveCount(0);
  await tab(page, 'Capture').click();
  expect(sent.map((r) => `${r.method()} ${r.url()}`)).toEqual([]);

  // Decided: keep the chosen patient, with the reason; then it is saved and sent.
  await hold.getByRole('button', { name: 'Keep P-1004' }).click();
  await expect(f.save).toBeDisabled();
  const reason = 'Detector still had the previous patient loaded';
  await page.getByLabel('Why keep P-1004?').fill(reason);
  await expect(f.save).toBeEnabled();
  await f.save.click();
  await expect(f.notice).toContainText('for patient P-1004');
  await expect(f.notice).toBeInViewport();
  // Nothing carries over: the next capture starts with no patient and routine, one tap brings the patient back.
  await expect(f.patientId).toHaveValue('');
  await expect(f.urgent).not.toBeChecked();
  await expect(page.getByRole('button', { name: 'Same patient: Peter Novak' })).toBeVisible();

  await tab(page, 'Queue').click();
  await expect(queueItems(page).first()).toHaveAttribute('data-status', 'synced', { timeout: 60_000 });
  expect(sent.length).toBeGreaterThan(0);
  const list = XrayListSchema.parse(await api(stack, stack.tokens.doctor, `/xrays?patientId=P-1004&limit=200`));
  const stored = list.items.find((x) => x.sha256 === file.sha256);
  expect(stored?.link).toMatchObject({
    status: 'verified',
    decision: { choice: 'keep_chosen_patient', reason },
  });
  const audit = AuditEventListSchema.parse(
    await api(stack, stack.tokens.admin, `/audit?xrayId=${stored?.id}&action=xray.create`),
  );
  expect(audit.items[0]?.details).toMatchObject({ patientDecision: { choice: 'keep_chosen_patient', reason } });
});

test("another hospital's id: the file's P-1001 issued by CLINIC-B holds (the server's PATIENT_ID_ISSUER, from /edge-config); kept with a reason, the server records the mismatch as decided, on its audit trail", async ({
  page,
}) => {
  await signInForRoster(page);
  const sent = watchSends(page);
  const dicom = path.join(stack.filesDir, 'clinic-keller-chest.dcm');
  // Maria Keller's id, name and birth date, but issued by the clinic the ambulance came from.
  const file = await writeDicom(dicom, {
    rows: 256,
    columns: 256,
    seed: 184,
    patientId: 'P-1001',
    issuerOfPatientId: 'CLINIC-B',
    patientName: 'KELLER^MARIA',
    bodyPart: 'CHEST',
  });
  await tab(page, 'Capture').click();
  const f = captureForm(page);
  await page.getByLabel('Choose X-ray files').setInputFiles(dicom);
  await expect(f.patientId).toHaveValue('P-1001');
  const hold = page.getByTestId('patient-hold');
  await expect(hold).toContainText(
    `This file's patient id P-1001 was issued by CLINIC-B, not by this hospital (${E2E_PATIENT_ID_ISSUER}): it may be another person.`,
  );
  // Another hospital's P-1001 is not ours to take: keeping the chosen patient is the one way on.
  await expect(hold.getByRole('button', { name: /Use the file/ })).toHaveCount(0);
  await f.view.selectOption('PA');
  await expect(f.save).toBeDisabled();
  expect(sent).toEqual([]);
  await hold.getByRole('button', { name: 'Keep P-1001 anyway (override)' }).click();
  const reason = 'Transferred from CLINIC-B, identity checked with the patient';
  await page.getByLabel('Why keep P-1001?').fill(reason);
  await f.save.click();
  await expect(f.notice).toContainText('for patient P-1001');

  await tab(page, 'Queue').click();
  await expect(queueItems(page).first()).toHaveAttribute('data-status', 'synced', { timeout: 60_000 });
  const list = XrayListSchema.parse(await api(stack, stack.tokens.doctor, `/xrays?patientId=P-1001&limit=200`));
  const stored = list.items.find((x) => x.sha256 === file.sha256);
  expect(stored?.dicom?.issuerOfPatientId).toBe('CLINIC-B');
  // Decided with the issuer in view: the link checked and verified, the decision on it; the
  // identity a mismatch a doctor reads, overridden by the paramedic.
  expect(stored?.link).toMatchObject({ status: 'verified', decision: { choice: 'keep_chosen_patient', reason } });
  expect(stored?.identity).toMatchObject({
    status: 'mismatch',
    overridden: true,
    fields: [
      {
        field: 'patientId',
        file: 'P-1001 (issuer CLINIC-B)',
        expected: `P-1001 (issuer ${E2E_PATIENT_ID_ISSUER})`,
        hint: 'other_issuer',
      },
    ],
    override: { fields: ['patientId'], reason, from: 'identity_override', by: { sub: 'demo-paramedic' } },
  });
  const audit = AuditEventListSchema.parse(
    await api(stack, stack.tokens.admin, `/audit?xrayId=${stored?.id}&action=xray.create`),
  );
  expect(audit.items[0]?.details).toMatchObject({
    link: { status: 'verified' },
    patientDecision: { choice: 'keep_chosen_patient', reason },
    identity: {
      status: 'mismatch',
      fields: ['patientId'],
      overridden: true,
      override: { by: 'demo-paramedic', fields: ['patientId'], reason, from: 'identity_override' },
    },
  });
});

test('a typed id not on the roster holds too; sent with a reason, the server finds no such patient: "Sent — patient not found: fix", fixed from the device', async ({
  page,
}) => {
  await signInForRoster(page);
  const sent = watchSends(page);
  const png = path.join(stack.filesDir, 'typo-hand.png');
  await writeFile(png, makePng({ seed: 183, width: 300, height: 300 }));
  await tab(page, 'Capture').click();
  const f = captureForm(page);
  await page.getByLabel('Choose X-ray files').setInputFiles(png);
  await f.patientId.fill('P-1O01X');
  await f.bodyPart.selectOption('HAND');
  await f.view.selectOption('AP');
  const hold = page.getByTestId('patient-hold');
  await expect(hold).toContainText("P-1O01X is not on this device's patient list.");
  await expect(f.save).toBeDisabled();
  expect(sent).toEqual([]);
  await hold.getByRole('button', { name: 'Keep P-1O01X' }).click();
  await page.getByLabel('Why keep P-1O01X?').fill('Patient registered on scene, not on the list');
  await f.save.click();
  await expect(f.notice).toContainText('for patient P-1O01X');

  await tab(page, 'Queue').click();
  // The capture's id is the X-ray's id on the server; the item keeps it when the patient changes.
  const xrayId = await queueItems(page).filter({ hasText: 'P-1O01X' }).getAttribute('data-capture-id');
  expect(xrayId).toBeTruthy();
  const item = page.locator(`[data-testid="queue-item"][data-capture-id="${xrayId}"]`);
  await expect(item).toHaveAttribute('data-status', 'synced', { timeout: 60_000 });
  const feedback = item.getByTestId('sent-link');
  await expect(feedback).toContainText('Sent — patient not found: fix', { timeout: 30_000 });
  await screenshot(page, 'queue-patient-not-found');

  await feedback.getByRole('button', { name: 'Fix the patient' }).click();
  await feedback.getByLabel('Patient ID').fill('kel');
  await feedback
    .getByRole('list', { name: 'Matching patients' })
    .getByRole('button', { name: /Maria Keller/ })
    .click();
  await feedback.getByRole('button', { name: 'Save the patient' }).click();
  await expect(item.getByTestId('sent-link')).toHaveText('Sent — patient confirmed');
  await expect(item).toContainText('P-1001 · HAND AP');

  // The server's row was corrected, its link verified, and the fix is on the audit trail as the paramedic's.
  const x = XraySchema.parse(await api(stack, stack.tokens.doctor, `/xrays/${xrayId}`));
  expect(x).toMatchObject({ patientId: 'P-1001', link: { status: 'verified' } });
  const audit = AuditEventListSchema.parse(
    await api(stack, stack.tokens.admin, `/audit?xrayId=${xrayId}&action=xray.update`),
  );
  expect(audit.items).toHaveLength(1);
  expect(audit.items[0]).toMatchObject({
    actor: { sub: 'demo-paramedic' },
    outcome: 'success',
    details: { before: { patientId: 'P-1O01X' }, after: { patientId: 'P-1001' } },
  });
});
