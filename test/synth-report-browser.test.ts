/**
 * The report in a real browser (issue 18 item 4): a report of real fits on pbc (a DP 2-tree at
 * ε = 1 fitted three times, the independent baseline, the noise-free fit), opened in headless
 * Chromium through puppeteer-core at 1280 × 800: no chart title clipped, no SVG text cut at its
 * chart's edge, no horizontal scrolling, a colour scale on every heat map, the verdict visible
 * on the first screen. Saves the top of the page to a temporary file, or to docs/synth-report.png
 * with BLINDSUM_UPDATE_SCREENSHOTS=1 (a test run leaves the repository as it was).
 *
 * Chromium: $BLINDSUM_CHROMIUM or /usr/bin/chromium. The test is skipped (with the reason
 * printed) only when Chromium or the puppeteer-core package is absent.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checkReportLayout, pbcReportHtml, type LayoutResult } from './report-layout.ts';
import { browserSkipReason, CHROMIUM } from './chromium.ts';

const skipReason = browserSkipReason;
if (skipReason) process.stderr.write(`test/synth-report-browser.test.ts SKIPPED: ${skipReason}\n`);

/** The few puppeteer-core calls used (typed here: the package may be absent when type-checking). */
interface Page {
  setViewport(v: { width: number; height: number }): Promise<void>;
  goto(url: string, o: { waitUntil: string }): Promise<unknown>;
  evaluate<T>(f: () => T): Promise<T>;
  screenshot(o: { path: string; clip: { x: number; y: number; width: number; height: number } }): Promise<unknown>;
}
interface Browser {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

const dir = mkdtempSync(join(tmpdir(), 'blindsum-report-browser-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the HTML report in headless Chromium at 1280 px', () => {
  it.skipIf(skipReason !== '')(`titles uncut, no horizontal scrolling, colour scales on heat maps, verdict visible${skipReason ? ` (skipped: ${skipReason})` : ''}`, async () => {
    const path = join(dir, 'report.html');
    writeFileSync(path, await pbcReportHtml());
    const moduleName = 'puppeteer-core';
    const puppeteer = ((await import(moduleName)) as { default: { launch(o: object): Promise<Browser> } }).default;
    const browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new', '--disable-gpu'], headless: true });
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 1280, height: 800 });
      await page.goto(pathToFileURL(path).href, { waitUntil: 'load' });
      const r = await page.evaluate<LayoutResult>(checkReportLayout);
      expect(r.problems).toEqual([]);
      expect(r.scrollWidth).toBeLessThanOrEqual(1280);
      expect(r.heatmaps).toBe(4); // the real association and one difference per synthetic dataset
      expect(r.titles).toBeGreaterThan(20);
      expect(r.svgTexts).toBeGreaterThan(100);
      expect(r.verdictTop).toBeGreaterThan(0);
      const shot = process.env['BLINDSUM_UPDATE_SCREENSHOTS'] === '1' ? 'docs/synth-report.png' : join(tmpdir(), `blindsum-synth-report-${process.pid}.png`);
      await page.screenshot({ path: shot, clip: { x: 0, y: 0, width: 1280, height: 2000 } });
    } finally {
      await browser.close();
    }
  }, 180_000);
});
