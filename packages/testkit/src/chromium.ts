import { existsSync } from 'node:fs';

/**
 * How the project's browser tests and benchmarks start Chromium: Debian's `/usr/bin/chromium`
 * by default (Playwright cannot download browsers here), PLAYWRIGHT_CHROMIUM to point elsewhere,
 * no `executablePath` when neither exists (Playwright's own browser, if installed). The flags keep
 * it from calling home on this closed network.
 */
export function chromiumLaunchOptions(): { executablePath?: string; args: string[] } {
  const given = process.env.PLAYWRIGHT_CHROMIUM ?? (existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined);
  return {
    ...(given ? { executablePath: given } : {}),
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  };
}
