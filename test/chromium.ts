/**
 * The headless browser the browser tests drive: Debian's Chromium ($BLINDSUM_CHROMIUM or
 * /usr/bin/chromium) through puppeteer-core. `browserSkipReason` is '' when both are present;
 * otherwise the tests are skipped with that reason printed (never silently passed).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

export const CHROMIUM: string = process.env['BLINDSUM_CHROMIUM'] || '/usr/bin/chromium';

function puppeteerPresent(): boolean {
  try {
    createRequire(import.meta.url).resolve('puppeteer-core');
    return true;
  } catch {
    return false;
  }
}

export const browserSkipReason: string = !existsSync(CHROMIUM)
  ? `Chromium not found at ${CHROMIUM} (set BLINDSUM_CHROMIUM)`
  : !puppeteerPresent() ? 'the npm package puppeteer-core is not installed' : '';
