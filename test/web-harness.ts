/**
 * A real federation with the web console (aggregator --web-listen, pages freshly built into a
 * temporary --web-root) and a headless Chromium driven by puppeteer-core, for the console tests.
 * Chromium: $BLINDSUM_CHROMIUM or /usr/bin/chromium; the tests are skipped (reason printed) only
 * when Chromium or the puppeteer-core package is absent.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalFederation } from '../cli/federation.ts';
import { splitCsvText } from '../stats/index.ts';
import { buildAll } from '../web/build.ts';

import { CHROMIUM } from './chromium.ts';
export { browserSkipReason, CHROMIUM } from './chromium.ts';

/** The puppeteer-core calls used (typed here: the package may be absent when type-checking). */
export interface ElementHandle {
  uploadFile(...paths: string[]): Promise<void>;
}
export interface Page {
  setViewport(v: { width: number; height: number }): Promise<void>;
  goto(url: string, o?: { waitUntil: string }): Promise<unknown>;
  evaluate<T, A extends unknown[]>(f: (...args: A) => T | Promise<T>, ...args: A): Promise<T>;
  waitForFunction<A extends unknown[]>(f: (...args: A) => unknown, o: { timeout: number }, ...args: A): Promise<unknown>;
  $(selector: string): Promise<ElementHandle | null>;
  select(selector: string, ...values: string[]): Promise<string[]>;
  type(selector: string, text: string): Promise<void>;
  click(selector: string): Promise<void>;
  focus(selector: string): Promise<void>;
  keyboard: { press(key: string): Promise<void> };
  screenshot(o: { path: string; fullPage?: boolean; clip?: { x: number; y: number; width: number; height: number } }): Promise<unknown>;
  on(event: 'console' | 'pageerror', fn: (m: { text?: () => string; message?: string }) => void): void;
}
export interface Browser {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const moduleName = 'puppeteer-core';
  const puppeteer = ((await import(moduleName)) as { default: { launch(o: object): Promise<Browser> } }).default;
  return puppeteer.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new', '--disable-gpu'], headless: true });
}

export interface WebFederation {
  fed: LocalFederation;
  url: string;
  webRoot: string;
  stop(): Promise<void>;
}

/** pbc split over three parties; analysts alice and bob (and the auditor); DP only; `ckks`: the CKKS backend too (key ceremony at start). */
export async function startWebFederation(opts: { operator?: boolean; ckks?: boolean } = {}): Promise<WebFederation> {
  const dir = mkdtempSync(join(tmpdir(), 'blindsum-web-'));
  const webRoot = join(dir, 'web');
  await buildAll(webRoot);
  const csv = readFileSync(new URL('../examples/pbc/pbc.csv', import.meta.url), 'utf8');
  const fed = await LocalFederation.start({
    dir, schemaPath: new URL('../examples/pbc/schema.json', import.meta.url).pathname, partyData: splitCsvText(csv, 3, 'web'),
    analysts: ['alice', 'bob'], allowExact: false, ...(opts.ckks ? { ckks: true } : {}),
    aggregatorArgs: ['--web-listen', '127.0.0.1:0', '--web-root', webRoot, ...(opts.operator ? ['--web-operator'] : [])],
  });
  return {
    fed, url: fed.webUrl!, webRoot,
    stop: async () => {
      await fed.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A raw HTTP request (fetch would normalise "..": the server must refuse what a raw client sends). */
export function rawRequest(url: string, method: string, path: string, headers: Record<string, string> = {}, body?: string | Uint8Array): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}
