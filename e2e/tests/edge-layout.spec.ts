import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { writeDicom } from '@xray/testkit';
import { captureForm, openApp, signInThroughIssuer, tab } from '../support/app-page.ts';
import { stackInfo } from '../support/edge-page.ts';

/**
 * Gloved hands on a moving tablet: every interactive element on every screen is at least 44×44 px
 * and at least 8 px from every other one, at 1280×800 and 800×1280; nothing moves when the
 * network or the sign-in changes.
 */
const stack = stackInfo();
const MIN_TARGET = 44;
const MIN_GAP = 8;

interface Target {
  name: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Every visible interactive element of the page, in page coordinates. */
async function targets(page: Page): Promise<Target[]> {
  return page.evaluate(() => {
    const selector =
      'button, a[href], input, select, textarea, summary, label.button, [role="button"], [tabindex]:not([tabindex="-1"])';
    const found: Target[] = [];
    for (const el of document.querySelectorAll<HTMLElement>(selector)) {
      const r = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      // Not rendered (a hidden screen), or visually hidden with its label as the target (the file picker).
      if (el.getClientRects().length === 0 || style.visibility === 'hidden' || r.width <= 1 || r.height <= 1) continue;
      const text = (el.getAttribute('aria-label') ?? el.textContent ?? '').trim().slice(0, 40);
      found.push({
        name: `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''} "${text}"`,
        x: r.left + scrollX,
        y: r.top + scrollY,
        w: r.width,
        h: r.height,
      });
    }
    return found;
  });
}

/** Small targets, and pairs closer than MIN_GAP (overlapping ones included), in words. */
function problems(list: Target[]): string[] {
  const out: string[] = [];
  for (const t of list)
    if (t.w < MIN_TARGET - 0.5 || t.h < MIN_TARGET - 0.5)
      out.push(`${t.name} is ${Math.round(t.w)}×${Math.round(t.h)} px`);
  for (let i = 0; i < list.length; i++)
    for (let j = i + 1; j < list.length; j++) {
      const a = list[i] as Target;
      const b = list[j] as Target;
      const gap = Math.max(b.x - (a.x + a.w), a.x - (b.x + b.w), b.y - (a.y + a.h), a.y - (b.y + b.h));
      if (gap < MIN_GAP - 0.5)
        out.push(`${a.name} and ${b.name} are ${gap < 0 ? 'overlapping' : `${gap.toFixed(1)} px apart`}`);
    }
  return out;
}

async function expectTouchFriendly(page: Page, screen: string): Promise<void> {
  await page.evaluate(() => scrollTo(0, 0));
  const list = await targets(page);
  expect(list.length, `targets on ${screen}`).toBeGreaterThan(0);
  expect(problems(list), `${screen} at ${page.viewportSize()?.width}×${page.viewportSize()?.height}`).toEqual([]);
}

const tabBoxes = async (page: Page) =>
  page
    .getByRole('navigation', { name: 'Screens' })
    .getByRole('button')
    .evaluateAll((els) => els.slice(0, 4).map((e) => JSON.stringify(e.getBoundingClientRect())));

for (const viewport of [
  { width: 1280, height: 800 },
  { width: 800, height: 1280 },
]) {
  test.describe(`${viewport.width}×${viewport.height}`, () => {
    test.use({ viewport, hasTouch: true });

    test('every target on every screen is at least 44×44 px and 8 px from the next; the tabs never move', async ({
      page,
      context,
    }) => {
      await openApp(page, stack);
      const signedOut = await tabBoxes(page);
      await expectTouchFriendly(page, 'sign-in (signed out)');
      await context.setOffline(true);
      await expect.poll(() => tabBoxes(page)).toEqual(signedOut);
      await context.setOffline(false);

      await signInThroughIssuer(page, stack, 'Pat Paramedic');
      // Signed in: the fourth tab says so, and no tab moved.
      await expect(tab(page, 'Account')).toHaveText('Account');
      expect(await tabBoxes(page)).toEqual(signedOut);
      await context.setOffline(true);
      await expect(page.getByTestId('status-banner')).toContainText('Offline');
      expect(await tabBoxes(page)).toEqual(signedOut);
      await context.setOffline(false);
      await expectTouchFriendly(page, 'account');

      await tab(page, 'Capture').click();
      await expectTouchFriendly(page, 'capture (empty)');
      // A file whose patient differs from the chosen one: the hold, the comparison and the choices.
      const dicom = path.join(stack.filesDir, `layout-${viewport.width}.dcm`);
      await writeDicom(dicom, { rows: 256, columns: 256, seed: 190, patientId: 'P-1005', patientName: 'SCHMIDT^LEA' });
      await page.getByLabel('Choose X-ray files').setInputFiles(dicom);
      const f = captureForm(page);
      await f.patientId.fill('we');
      await expect(page.getByRole('list', { name: 'Matching patients' })).toBeVisible();
      await expectTouchFriendly(page, 'capture (patient search)');
      await page.getByRole('list', { name: 'Matching patients' }).getByRole('button').first().click();
      await page.getByTestId('patient-hold').getByRole('button', { name: /^Keep/ }).click();
      await expectTouchFriendly(page, 'capture (wrong-patient hold)');

      await tab(page, 'Queue').click();
      await expectTouchFriendly(page, 'queue');
      await tab(page, 'Settings').click();
      await expectTouchFriendly(page, 'settings');
    });
  });
}
