/**
 * The web console in a real headless Chromium against a real aggregator (--web-listen) and three
 * party processes (issue 20): the pages come with a strict CSP and no inline script; every form
 * control has a label and is reachable by keyboard; an analyst signs in with the key file, sees
 * the query's cost and expected noise before submitting, submits a DP query signed in the
 * browser, watches its rounds to the end and reads the result; the budget ledger shows the
 * charge; the operator page shows the federation to an auditor. Screenshots to a temporary
 * directory, or to docs/web/ with BLINDSUM_UPDATE_SCREENSHOTS=1.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetBudgetRequest, GetBudgetResponse, GetResultRequest, GetResultResponse, ListPartiesResponse } from '../gen/blindsum/v1/blindsum.ts';
import { READ_METADATA, signRead } from '../services/common/query-signing.ts';
import { OPERATOR_STATUS_METHOD } from '../services/aggregator/web/operator.ts';
import { browserSkipReason, launchBrowser, startWebFederation, type Browser, type Page, type WebFederation } from './web-harness.ts';

/** The DOM as the functions run in the page see it (this file is type-checked without the DOM lib). */
interface DomNode {
  id: string; hidden: boolean; textContent: string | null; value: string; outerHTML: string; children: Iterable<DomNode>;
  getAttribute(n: string): string | null; closest(s: string): DomNode | null; dispatchEvent(e: unknown): boolean;
}
declare const document: {
  getElementById(id: string): DomNode | null; querySelector(s: string): DomNode | null;
  querySelectorAll(s: string): Iterable<DomNode> & { length: number }; activeElement: DomNode | null; body: DomNode;
};
declare const Event: new (type: string, init?: object) => unknown;

const skip = browserSkipReason !== '';
if (skip) process.stderr.write(`test/web-console-browser.test.ts SKIPPED: ${browserSkipReason}\n`);
const UPDATE = process.env['BLINDSUM_UPDATE_SCREENSHOTS'] === '1';
const SHOTS = UPDATE ? 'docs/web' : join(tmpdir(), `blindsum-web-shots-${process.pid}`);

let w: WebFederation;
let browser: Browser;

beforeAll(async () => {
  if (skip) return;
  mkdirSync(SHOTS, { recursive: true });
  [w, browser] = await Promise.all([startWebFederation({ operator: true }), launchBrowser()]);
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await w?.stop();
  if (!UPDATE) rmSync(SHOTS, { recursive: true, force: true });
});

async function newPage(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (m) => errors.push(m.message ?? ''));
  page.on('console', (m) => {
    const t = m.text?.() ?? '';
    if (/Content Security Policy|Refused to/i.test(t)) errors.push(t);
  });
  await page.setViewport({ width: 1100, height: 900 });
  return { page, errors };
}

/** The page region from the result's heading to the bottom of its plot. */
const resultClip = (): { x: number; y: number; width: number; height: number } => {
  const top = (document.getElementById('result') as unknown as { getBoundingClientRect(): { top: number } }).getBoundingClientRect().top + (globalThis as unknown as { scrollY: number }).scrollY;
  const bottom = (document.querySelector('svg.plot') as unknown as { getBoundingClientRect(): { bottom: number } }).getBoundingClientRect().bottom + (globalThis as unknown as { scrollY: number }).scrollY;
  return { x: 0, y: top - 8, width: 1100, height: bottom - top + 24 };
};

/** Controls without a label (a <label for>, an enclosing label or aria-label). */
const unlabelled = (): string[] => [...document.querySelectorAll('input, select, textarea')]
  .filter((c) => !(c.id && document.querySelector(`label[for="${c.id}"]`)) && !c.closest('label') && !c.getAttribute('aria-label'))
  .map((c) => c.outerHTML.slice(0, 80));

describe.skipIf(skip)('web console in headless Chromium', () => {
  it('serves every built page with a strict CSP, nosniff and no inline script or style', async () => {
    // The operator page runs no WebAssembly: the strict policy.
    const res = await fetch(`${w.url}operator/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'"]) expect(csp).toContain(d);
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('wasm-unsafe-eval');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    // The auditor page (node-seal recomputes CKKS keys and sums) and the analyst page (node-seal decrypts CKKS
    // results) may run WebAssembly, and nothing else more; node-seal's wasm is served as application/wasm.
    for (const p of ['auditor', 'analyst']) {
      const page = await fetch(`${w.url}${p}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy'), p).toBe(csp.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'"));
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
      const wasm = await fetch(`${w.url}${p}/seal_throws.wasm`);
      expect(wasm.status).toBe(200);
      expect(wasm.headers.get('content-type')).toBe('application/wasm');
    }
    const pages = readdirSync(w.webRoot);
    expect(pages).toContain('auditor');
    expect(pages).toContain('analyst');
    expect(pages).toContain('operator');
    for (const p of pages) {
      const html = readFileSync(join(w.webRoot, p, 'index.html'), 'utf8');
      expect(html, p).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i); // every script is a file
      expect(html, p).not.toMatch(/\son[a-z]+\s*=/i); // no inline handlers
      expect(html, p).not.toMatch(/\sstyle\s*=/i);
      expect(html, p).not.toMatch(/<style/i);
      expect(html, p).not.toMatch(/https?:\/\//i); // nothing from a CDN
    }
  });

  it('an analyst signs in with the key file, sees cost and noise, submits a DP query signed in the browser, watches it finish and reads the result', async () => {
    const { page, errors } = await newPage();
    await page.goto(`${w.url}analyst/`, { waitUntil: 'load' });
    expect(await page.evaluate(unlabelled)).toEqual([]);
    // Keyboard: the first control is reached with Tab after the navigation links.
    await page.focus('nav a:last-child');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('key-file');

    const input = await page.$('#key-file');
    await input!.uploadFile(w.fed.analystKeyPath('alice'));
    await page.waitForFunction(() => !document.getElementById('query')!.hidden && /remaining ρ/.test(document.getElementById('budget-summary')!.textContent ?? ''), { timeout: 15_000 });
    expect(await page.evaluate(() => document.getElementById('signin-status')!.textContent)).toContain('signed in as alice');
    expect(await page.evaluate(() => document.getElementById('federation-summary')!.textContent)).toContain('3 of 3 parties connected');
    await page.click('#add-filter'); // a filter row's controls are labelled too
    expect(await page.evaluate(() => document.querySelectorAll('.filter-row select, .filter-row input').length)).toBe(3);
    expect(await page.evaluate(unlabelled)).toEqual([]);
    await page.click('.filter-row button'); // and removed again

    // Compose: a histogram of age at rho 0.2; the cost and the expected noise are shown before submitting.
    await page.select('#q-kind', 'histogram');
    await page.select('#q-columns', 'age');
    await page.evaluate(() => {
      const rho = document.getElementById('q-rho')!;
      rho.value = '0.2';
      rho.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await page.waitForFunction(() => document.getElementById('noise-table') !== null, { timeout: 5_000 });
    const preview = await page.evaluate(() => document.getElementById('preview')!.textContent ?? '');
    expect(preview).toContain('ρ = 0.200');
    expect(preview).toContain('remaining budget ρ = 10.00');
    expect(preview).toMatch(/Expected noise sd of each released entry \(\d+ entries/);
    await page.screenshot({ path: join(SHOTS, 'analyst-compose.png'), fullPage: true });

    await page.click('#submit-query');
    await page.waitForFunction(() => /done/.test(document.getElementById('result-status')?.textContent ?? ''), { timeout: 45_000 });
    const events = await page.evaluate(() => [...document.querySelectorAll('#events li')].map((li) => li.textContent ?? ''));
    expect(events.some((e) => /MaskedInputCollection|Unmasking/.test(e))).toBe(true);
    expect(events.at(-1)).toMatch(/done/);
    const result = await page.evaluate(() => ({
      status: document.getElementById('result-status')!.textContent ?? '',
      rows: [...document.querySelectorAll('table.results tbody tr')].map((tr) => [...tr.children].map((c) => c.textContent ?? '')),
      bars: document.querySelectorAll('svg.plot rect.bar').length,
      links: [...document.querySelectorAll('a.download')].map((a) => a.getAttribute('download') ?? ''),
    }));
    expect(result.status).toContain('3 contributors');
    expect(result.status).toContain('charged ρ = 0.200');
    expect(result.rows[0]![0]).toBe('n');
    expect(Number(result.rows[0]![1])).toBeGreaterThan(100); // about 334 rows (noisy)
    expect(result.rows.some((r) => r[0] === 'counts[0]' && r[2] !== '—')).toBe(true); // with its noise sd
    expect(result.bars).toBe(10);
    expect(result.links.map((l) => l.slice(-4))).toEqual(['.csv', 'json']);
    // The budget is read again after the result is shown (the ledger's caption names charges before its rows do).
    await page.waitForFunction(() => /spent ρ = 0\.2/.test(document.getElementById('budget-summary')?.textContent ?? ''), { timeout: 10_000 });
    expect(await page.evaluate(() => document.getElementById('budget-summary')!.textContent)).toMatch(/spent ρ = 0\.2000? of 10/);
    expect(await page.evaluate(() => document.querySelectorAll('#ledger-table tbody tr').length)).toBe(1);
    await page.screenshot({ path: join(SHOTS, 'analyst-result.png'), fullPage: true });
    expect(errors).toEqual([]);
  });

  it('Kaplan–Meier curves and regression coefficients with intervals are plotted from DP results', async () => {
    const { page, errors } = await newPage();
    await page.goto(`${w.url}analyst/`, { waitUntil: 'load' });
    await (await page.$('#key-file'))!.uploadFile(w.fed.analystKeyPath('alice'));
    await page.waitForFunction(() => !document.getElementById('query')!.hidden && /remaining ρ/.test(document.getElementById('budget-summary')!.textContent ?? ''), { timeout: 15_000 });
    const run = async (setup: () => Promise<void>): Promise<void> => {
      await setup();
      await page.evaluate(() => {
        document.getElementById('progress-status')!.textContent = '';
      });
      await page.click('#submit-query');
      await page.waitForFunction(() => /: (done|failed)/.test(document.getElementById('progress-status')?.textContent ?? ''), { timeout: 45_000 });
      expect(await page.evaluate(() => document.getElementById('result-status')!.textContent)).toMatch(/^done: 3 contributors/);
    };
    await run(async () => {
      await page.select('#q-kind', 'kaplan_meier');
      await page.select('#q-time', 'time');
      await page.select('#q-event', 'status');
      await page.type('#q-positive', '2');
      await page.select('#q-strata', 'sex');
    });
    expect(await page.evaluate(() => document.querySelectorAll('svg.plot path.curve').length)).toBe(2); // one curve per stratum
    expect(await page.evaluate(() => document.querySelectorAll('svg.plot path.band').length)).toBe(4); // and its band
    await page.screenshot({ path: join(SHOTS, 'analyst-km.png'), clip: await page.evaluate(resultClip) });
    await run(async () => {
      await page.select('#q-kind', 'linear_regression');
      await page.select('#q-columns', 'age', 'sex');
      await page.select('#q-target', 'albumin');
      await page.evaluate(() => {
        const rho = document.getElementById('q-rho')!;
        rho.value = '1';
        rho.dispatchEvent(new Event('input', { bubbles: true }));
      });
    });
    expect(await page.evaluate(() => document.querySelectorAll('svg.plot circle.point').length)).toBe(2); // age, sexm (the intercept is in the table)
    expect(await page.evaluate(() => document.querySelectorAll('svg.plot line.interval').length)).toBe(2);
    await page.screenshot({ path: join(SHOTS, 'analyst-regression.png'), clip: await page.evaluate(resultClip) });
    expect(errors).toEqual([]);
  });

  it('the key saved in the browser is encrypted under the passphrase: a wrong one is refused, the right one signs in after a reload', async () => {
    const { page, errors } = await newPage();
    await page.goto(`${w.url}analyst/`, { waitUntil: 'load' });
    await page.click('#save-key');
    await page.type('#save-passphrase', 'correct horse battery');
    await (await page.$('#key-file'))!.uploadFile(w.fed.analystKeyPath('bob'));
    await page.waitForFunction(() => /key saved in this browser, encrypted/.test(document.getElementById('signin-status')?.textContent ?? ''), { timeout: 15_000 });
    // What IndexedDB holds: the id, salt, IV, iterations and ciphertext; not the key file's text.
    const stored = await page.evaluate(() => new Promise<string>((resolve) => {
      const r = (globalThis as unknown as { indexedDB: { open(n: string): { onsuccess: () => void; result: { transaction(s: string): { objectStore(s: string): { get(k: string): { onsuccess: () => void; result: Record<string, unknown> } } } } } } }).indexedDB.open('blindsum-console');
      r.onsuccess = () => {
        const g = r.result.transaction('keys').objectStore('keys').get('analyst-key');
        g.onsuccess = () => resolve(JSON.stringify(Object.keys(g.result).sort()) + String(new TextDecoder().decode(g.result['ciphertext'] as Uint8Array).includes('secretKey')));
      };
    }));
    expect(stored).toBe('["ciphertext","id","iterations","iv","salt"]false');
    await page.goto(`${w.url}analyst/`, { waitUntil: 'load' });
    await page.waitForFunction(() => !document.getElementById('saved-key')!.hidden, { timeout: 5_000 });
    expect(await page.evaluate(() => document.getElementById('saved-key-id')!.textContent)).toBe('bob');
    await page.type('#unlock-passphrase', 'wrong passphrase');
    await page.click('#unlock-key');
    await page.waitForFunction(() => /wrong passphrase/.test(document.getElementById('signin-status')?.textContent ?? ''), { timeout: 15_000 });
    await page.type('#unlock-passphrase', 'correct horse battery');
    await page.click('#unlock-key');
    await page.waitForFunction(() => /remaining ρ/.test(document.getElementById('budget-summary')?.textContent ?? ''), { timeout: 15_000 });
    expect(await page.evaluate(() => document.getElementById('signin-status')!.textContent)).toContain('signed in as bob');
    await page.click('#forget-key');
    await page.waitForFunction(() => document.getElementById('saved-key')!.hidden, { timeout: 5_000 });
    expect(errors).toEqual([]);
  });

  /** The web console's byte counters from the operator status (an auditor-signed read), by direction and method. */
  const webBytes = async (): Promise<Record<string, number>> => {
    const ts = String(Date.now());
    const sig = signRead(w.fed.identity('auditor').identity.secretKey, 'demo', OPERATOR_STATUS_METHOD, 'auditor', ts, new Uint8Array(0));
    const res = await fetch(`${w.url}operator/status`, { headers: { [READ_METADATA.analyst]: 'auditor', [READ_METADATA.timestamp]: ts, [READ_METADATA.signature]: Buffer.from(sig).toString('base64') } });
    expect(res.status).toBe(200);
    const body = await res.json() as { metrics: { name: string; values: { labels: Record<string, string>; value: number }[] }[] };
    const out: Record<string, number> = {};
    for (const m of body.metrics) {
      const dir = /^blindsum_web_(received|sent)_bytes_total$/.exec(m.name)?.[1];
      if (dir) for (const v of m.values) out[`${dir} ${v.labels['method']}`] = v.value;
    }
    return out;
  };

  it('the Connect endpoint answers as gRPC does (one implementation): ListParties, GetBudget and GetResult; its bytes are counted apart from gRPC\'s', async () => {
    const alice = w.fed.client('alice');
    const before = await webBytes();
    const sent: Record<string, number> = { ListParties: 0, GetBudget: 0, GetResult: 0 };
    try {
      const viaGrpc = await alice.listParties();
      const text = async (r: Response, method: string): Promise<unknown> => {
        const t = await r.text();
        sent[method]! += Buffer.byteLength(t);
        return JSON.parse(t);
      };
      const viaConnect = ListPartiesResponse.fromJSON(await text(await fetch(`${w.url}blindsum.v1.AnalystService/ListParties`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }), 'ListParties'));
      expect({ ...viaConnect, parties: viaConnect.parties.map((p) => ({ ...p, lastSeenMs: 0n })) }).toEqual({ ...viaGrpc, parties: viaGrpc.parties.map((p) => ({ ...p, lastSeenMs: 0n })) });
      const budget = await alice.getBudget();
      const ts = String(Date.now());
      const req = { analyst: 'alice' };
      const sig = signRead(w.fed.identity('alice').identity.secretKey, 'demo', 'GetBudget', 'alice', ts, GetBudgetRequest.encode(req).finish());
      const headers = { 'content-type': 'application/json', [READ_METADATA.analyst]: 'alice', [READ_METADATA.timestamp]: ts, [READ_METADATA.signature]: Buffer.from(sig).toString('base64') };
      const viaConnectBudget = GetBudgetResponse.fromJSON(await text(await fetch(`${w.url}blindsum.v1.AnalystService/GetBudget`, { method: 'POST', headers, body: JSON.stringify(req) }), 'GetBudget'));
      expect(viaConnectBudget).toEqual(budget);
      const queryId = budget.entries[0]!.queryId; // the browser's query
      const r = await alice.getResult(queryId);
      const rq = { queryId };
      const ts2 = String(Date.now());
      const sig2 = signRead(w.fed.identity('alice').identity.secretKey, 'demo', 'GetResult', 'alice', ts2, GetResultRequest.encode(rq).finish());
      const viaConnectResult = GetResultResponse.fromJSON(await text(await fetch(`${w.url}blindsum.v1.AnalystService/GetResult`, {
        method: 'POST', headers: { 'content-type': 'application/json', [READ_METADATA.analyst]: 'alice', [READ_METADATA.timestamp]: ts2, [READ_METADATA.signature]: Buffer.from(sig2).toString('base64') }, body: JSON.stringify(rq),
      }), 'GetResult'));
      expect(viaConnectResult).toEqual(r);
      // The request and response bodies are counted under blindsum_web_*_bytes_total (other pages
      // of this file may still poll, so at least these calls' bytes, never fewer).
      const after = await webBytes();
      const delta = (k: string): number => (after[k] ?? 0) - (before[k] ?? 0);
      expect(delta('received ListParties')).toBeGreaterThanOrEqual(2);
      expect(delta('received GetBudget')).toBeGreaterThanOrEqual(JSON.stringify(req).length);
      expect(delta('received GetResult')).toBeGreaterThanOrEqual(JSON.stringify(rq).length);
      for (const m of ['ListParties', 'GetBudget', 'GetResult']) expect(delta(`sent ${m}`), m).toBeGreaterThanOrEqual(sent[m]!);
      expect(sent['GetResult']).toBeGreaterThan(100);
    } finally {
      alice.close();
    }
  });

  it('the operator page shows parties, roster, key ceremony and recent queries to an auditor, and refuses an analyst', async () => {
    const { page, errors } = await newPage();
    await page.goto(`${w.url}operator/`, { waitUntil: 'load' });
    expect(await page.evaluate(unlabelled)).toEqual([]);
    const input = await page.$('#key-file');
    await input!.uploadFile(w.fed.analystKeyPath('alice'));
    await page.waitForFunction(() => /permission_denied/.test(document.getElementById('status')?.textContent ?? ''), { timeout: 10_000 });
    expect(await page.evaluate(() => document.getElementById('status')!.textContent)).toContain('role "auditor"');
    await (await page.$('#key-file'))!.uploadFile(w.fed.analystKeyPath('auditor'));
    await page.waitForFunction(() => document.getElementById('parties-table') !== null, { timeout: 10_000 });
    const text = await page.evaluate(() => document.body.textContent ?? '');
    for (const s of ['hospital-1', 'hospital-3', 'connected', 'alice', 'auditor', 'disabled', 'blindsum_queries_total']) expect(text).toContain(s);
    expect(text).not.toMatch(/secretKey|[0-9a-f]{64}/); // fingerprints only, no key material
    await page.screenshot({ path: join(SHOTS, 'operator.png'), fullPage: true });
    expect(errors).toEqual([]);
  });
});
