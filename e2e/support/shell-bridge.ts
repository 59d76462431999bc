import { expect, type Browser, type Page } from '@playwright/test';
import { startLoopbackListener, type LoopbackListener } from '@xray/edge/shell/loopback-login';

export interface LoopbackBridge {
  /** Every authorization URL handed to the "system browser", in order. */
  visits: string[];
  /** Closes the listener still waiting, if any. */
  close(): Promise<void>;
}

/**
 * The main process's side of the shell's sign-in (RFC 8252), for a page whose stand-in
 * `window.xrayShell.loopbackSignIn` calls `__shellLoopbackStart` / `__shellLoopbackComplete`:
 * the shell's own loopback listener in this Node process, and as the system browser another
 * browser context, where `userName` signs in at the issuer.
 */
export async function exposeLoopbackSignIn(
  page: Page,
  browser: Browser,
  userName = 'Pat Paramedic',
): Promise<LoopbackBridge> {
  let listener: LoopbackListener | undefined;
  const visits: string[] = [];
  await page.exposeFunction('__shellLoopbackStart', async () => {
    await listener?.close();
    listener = await startLoopbackListener({ timeoutMs: 60_000 });
    return listener.redirectUri;
  });
  await page.exposeFunction('__shellLoopbackComplete', async (authorizationUrl: string) => {
    if (!listener) throw new Error('no loopback listener');
    // The system browser: another browser profile, where the person signs in at the issuer.
    const system = await browser.newContext();
    try {
      const tab = await system.newPage();
      visits.push(authorizationUrl);
      await tab.goto(authorizationUrl);
      await tab.getByRole('button', { name: new RegExp(userName) }).click();
      await expect(tab.getByRole('heading', { name: 'Signed in' })).toBeVisible();
      return await listener.callback;
    } finally {
      await system.close();
    }
  });
  return { visits, close: async () => listener?.close() };
}
