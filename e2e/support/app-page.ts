import { mkdirSync } from 'node:fs';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { expect, type Page } from '@playwright/test';
import { repoRoot } from './stack.ts';
import type { StackInfo } from './edge-page.ts';

/** Where the test run leaves the screenshots the README links to. */
export const SCREENSHOT_DIR = path.join(repoRoot, 'docs/screenshots');

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`) });
}

/** axe-core over what the page shows now (WCAG 2.1 A/AA): no serious or critical violation. */
export async function expectAccessible(page: Page, screen: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(bad, `axe on the ${screen} screen`).toEqual([]);
}

/** Opens the edge app the server serves and waits until it has started. */
export async function openApp(page: Page, stack: StackInfo): Promise<void> {
  await page.goto(`${stack.url}/`);
  await expect(page.locator('body[data-ready="true"]')).toBeAttached();
}

/** A tab by its label; the fourth reads "Sign in" signed out and "Account" signed in. */
export const tab = (page: Page, name: 'Capture' | 'Queue' | 'Settings' | 'Sign in' | 'Account') =>
  page
    .getByRole('navigation', { name: 'Screens' })
    .getByRole('button', {
      name: name === 'Sign in' || name === 'Account' ? /^(Sign in|Account)$/ : name,
      exact: false,
    })
    .first();

export const banner = (page: Page) => page.getByTestId('status-banner');

/** Signs in through the app: the dev issuer's login form, a click on the demo user, back to the app. */
export async function signInThroughIssuer(page: Page, stack: StackInfo, userName: string): Promise<void> {
  await tab(page, 'Sign in').click();
  await page
    .getByRole('main')
    .getByRole('button', { name: /^Sign in/ })
    .click();
  // The first sign-in on a device starts by choosing the shift PIN (the key vault), then goes on.
  const choose = page.getByRole('heading', { name: 'Choose a shift PIN' });
  await Promise.race([
    page.waitForURL((u) => u.href.startsWith(stack.issuer)),
    choose
      .waitFor()
      .then(() => unlockShift(page))
      .catch(() => undefined),
  ]);
  await page.waitForURL((u) => u.href.startsWith(stack.issuer));
  await expect(page.getByRole('heading', { name: 'Development sign-in' })).toBeVisible();
  await page.getByRole('button', { name: new RegExp(userName) }).click();
  await page.waitForURL((u) => u.href.startsWith(stack.url));
  await expect(page.locator('body[data-ready="true"]')).toBeAttached();
  // Back from the issuer, the page was loaded again: the shift PIN opens the device's keys, and
  // the sign-in (which proves the DPoP key sealed under it) completes.
  await unlockShift(page);
  await expect(banner(page)).toContainText(`Signed in as ${userName}`);
}

/** The shift PIN the browser tests choose at the first sign-in (apps/edge key vault). */
export const SHIFT_PIN = '482916';

/**
 * The shift PIN after a sign-in or a reload: chosen the first time (the key vault is set up),
 * entered when the device is locked (every page load: the unsealed keys live in memory only).
 */
export async function unlockShift(page: Page, pin = SHIFT_PIN): Promise<void> {
  const heading = page.getByRole('heading', { name: /^(Choose a shift PIN|Unlock for this shift)$/ });
  await expect(heading).toBeVisible();
  const choosing = (await heading.textContent()) === 'Choose a shift PIN';
  await page.getByLabel('PIN', { exact: true }).fill(pin);
  if (choosing) await page.getByLabel('PIN again').fill(pin);
  // In the screen, not the tab of the same name.
  await page
    .getByRole('main')
    .getByRole('button', { name: choosing ? 'Set PIN' : 'Unlock', exact: true })
    .click();
  await expect(heading).toBeHidden();
}

/** Waits until the service worker controls the page (the app shell is precached). */
export async function waitForServiceWorker(page: Page): Promise<void> {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (navigator.serviceWorker.controller) return;
    await new Promise<void>((resolve) =>
      navigator.serviceWorker.addEventListener('controllerchange', () => resolve(), { once: true }),
    );
  });
}

/** The capture form's fields, by their labels. */
export function captureForm(page: Page) {
  const form = page.getByRole('form', { name: 'X-ray details' });
  return {
    form,
    patientId: form.getByLabel('Patient ID'),
    consultation: form.getByLabel(/^Consultation/),
    bodyPart: form.getByLabel(/^Body part/),
    view: form.getByLabel(/^View/),
    urgent: form.getByLabel(/^Urgent/),
    notes: form.getByLabel(/^Notes/),
    save: form.getByRole('button', { name: 'Save X-ray' }),
    notice: page.getByTestId('capture-notice'),
    problem: page.getByTestId('capture-problem'),
  };
}

export const queueItems = (page: Page) => page.getByTestId('queue-item');

/** GET on the sync server's API as the holder of `token`; the JSON body, to be parsed by a schema. */
export async function api(stack: StackInfo, token: string, pathAndQuery: string): Promise<unknown> {
  const res = await fetch(`${stack.url}${pathAndQuery}`, { headers: { Authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`GET ${pathAndQuery}: ${res.status} ${await res.text()}`);
  return res.json();
}

/**
 * The paramedic signed in through the issuer, the app installed (service worker), on the Capture
 * tab with the roster loaded (it arrives in the background after the sign-in); the form's fields.
 */
export async function captureSignedIn(page: Page, stack: StackInfo): Promise<ReturnType<typeof captureForm>> {
  await openApp(page, stack);
  await signInThroughIssuer(page, stack, 'Pat Paramedic');
  await waitForServiceWorker(page);
  await tab(page, 'Capture').click();
  const f = captureForm(page);
  await f.patientId.fill('kel');
  await expect(page.getByRole('list', { name: 'Matching patients' })).toContainText('Maria Keller');
  await f.patientId.fill('');
  return f;
}
