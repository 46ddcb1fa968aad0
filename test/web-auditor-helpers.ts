/**
 * For test/web-auditor-browser.test.ts: the auditor page's Content-Security-Policy (read from its
 * index.html, where docs/web.md quotes it), the few puppeteer-core calls used (typed here: the
 * package may be absent when type-checking), and the page reader run inside the browser.
 */
import { readFileSync } from 'node:fs';

const html = readFileSync(new URL('../web/pages/auditor/index.html', import.meta.url), 'utf8');
/** The CSP of the auditor page's <meta http-equiv>, sent as a header too by the test server. */
export const AUDITOR_CSP: string = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)![1]!;

export interface ElementHandle {
  uploadFile(...paths: string[]): Promise<void>;
}
export interface Page {
  setViewport(v: { width: number; height: number }): Promise<void>;
  goto(url: string, o: { waitUntil: string }): Promise<unknown>;
  $(selector: string): Promise<ElementHandle | null>;
  focus(selector: string): Promise<void>;
  keyboard: { press(key: string): Promise<void> };
  waitForSelector(selector: string, o: { timeout: number }): Promise<unknown>;
  evaluate<T>(f: () => T): Promise<T>;
  screenshot(o: { path: string; fullPage: boolean }): Promise<unknown>;
  on(event: 'console', f: (m: { text(): string }) => void): void;
  close(): Promise<void>;
}
export interface Browser {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

export interface PageView {
  verdict: string;
  verdictStatus: string;
  rows: { check: string; status: string; statusText: string; details: string }[];
  failure?: { index: string; kind: string; reason: string };
  cliReport: string;
}

/** The DOM as far as readPage uses it (the node tsconfig has no DOM lib). */
interface El {
  textContent: string | null;
  getAttribute(n: string): string | null;
  querySelectorAll(s: string): ArrayLike<El>;
}

/** Runs in the page: what it shows (self-contained, serialized by puppeteer). */
export function readPage(): PageView {
  const { document } = globalThis as unknown as { document: { querySelector(s: string): El | null; querySelectorAll(s: string): ArrayLike<El> } };
  const text = (sel: string): string => document.querySelector(sel)?.textContent ?? '';
  const verdict = document.querySelector('#verdict');
  const rows = Array.from(document.querySelectorAll('#checks tbody tr')).map((tr) => {
    const cells = tr.querySelectorAll('td, th');
    return { check: tr.getAttribute('data-check') ?? '', status: tr.getAttribute('data-status') ?? '', statusText: cells[2]?.textContent ?? '', details: cells[3]?.textContent ?? '' };
  });
  const failure = document.querySelector('#failure') ? { index: text('#failure-index'), kind: text('#failure-kind'), reason: text('#failure-reason') } : undefined;
  return { verdict: verdict?.textContent ?? '', verdictStatus: verdict?.getAttribute('data-status') ?? '', rows, ...(failure ? { failure } : {}), cliReport: text('#cli-report') };
}
