/**
 * CKKS results decrypted in the browser (issue 20, item 3): a real aggregator (--web-listen,
 * --ckks) and three party processes that have run the CKKS key ceremony, and a headless Chromium.
 * The analyst signs in, loads the CKKS key file of `blindsum analyst ckks-keygen` (held in the
 * page's memory), submits a DP CKKS query signed in the browser with the CKKS key's hash bound into
 * the request, and the page decrypts, rounds and post-processes the release with node-seal, by the
 * CLI's code: the values equal those of `blindsum result --ckks-key` (a CLI process) for the same
 * query, to the last digit. A wrong CKKS key file gives a clear error, never numbers. Screenshot:
 * docs/web/analyst-ckks.png with BLINDSUM_UPDATE_SCREENSHOTS=1 (else a temporary directory).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAnalystKey, loadAnalystKeyFile, writeAnalystKeyFile } from '../client/ckks-analyst.ts';
import { sha256Hex } from '../services/common/ckks.ts';
import { numericFields, type QueryResult } from '../stats/index.ts';
import { browserSkipReason, launchBrowser, startWebFederation, type Browser, type Page, type WebFederation } from './web-harness.ts';

/** The DOM as the functions run in the page see it (this file is type-checked without the DOM lib). */
interface DomNode {
  id: string; hidden: boolean; textContent: string | null; value: string; children: Iterable<DomNode>;
  getAttribute(n: string): string | null; dispatchEvent(e: unknown): boolean; classList: { contains(c: string): boolean };
}
declare const document: { getElementById(id: string): DomNode | null; querySelector(s: string): DomNode | null; querySelectorAll(s: string): Iterable<DomNode> & { length: number } };
declare const Event: new (type: string, init?: object) => unknown;

const skip = browserSkipReason !== '';
if (skip) process.stderr.write(`test/web-console-ckks-browser.test.ts SKIPPED: ${browserSkipReason}\n`);
const UPDATE = process.env['BLINDSUM_UPDATE_SCREENSHOTS'] === '1';
const SHOTS = UPDATE ? 'docs/web' : join(tmpdir(), `blindsum-web-ckks-shots-${process.pid}`);
const CLI = join(import.meta.dirname, '..', 'cli', 'blindsum.ts');

let w: WebFederation;
let browser: Browser;
let keys: string;
let page: Page;
const errors: string[] = [];
let queryId = '';

beforeAll(async () => {
  if (skip) return;
  mkdirSync(SHOTS, { recursive: true });
  keys = mkdtempSync(join(tmpdir(), 'blindsum-web-ckks-keys-'));
  [w, browser] = await Promise.all([startWebFederation({ ckks: true }), launchBrowser()]);
  await w.fed.waitCollectiveKey();
  writeAnalystKeyFile(join(keys, 'alice.ckks.key'), await generateAnalystKey());
  writeAnalystKeyFile(join(keys, 'other.ckks.key'), await generateAnalystKey());
  page = await browser.newPage();
  page.on('pageerror', (m) => errors.push(m.message ?? ''));
  page.on('console', (m) => {
    const t = m.text?.() ?? '';
    if (/Content Security Policy|Refused to/i.test(t)) errors.push(t);
  });
  await page.setViewport({ width: 1100, height: 900 });
}, 240_000);
afterAll(async () => {
  await browser?.close();
  await w?.stop();
  if (keys) rmSync(keys, { recursive: true, force: true });
  if (!UPDATE) rmSync(SHOTS, { recursive: true, force: true });
});

/** `blindsum result QUERY_ID --json --ckks-key FILE` as a process: the CLI's decryption of the same release. */
function cliResult(id: string, ckksKeyPath: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, 'result', '--aggregator', w.fed.address, '--analyst-key', w.fed.analystKeyPath('alice'), '--ckks-key', ckksKeyPath, '--json', id], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const ckksKeyStatus = (): Promise<{ text: string; error: boolean }> => page.evaluate(() => {
  const s = document.getElementById('ckks-key-status')!;
  return { text: s.textContent ?? '', error: s.classList.contains('error') };
});

describe.skipIf(skip)('CKKS results decrypted in the browser', () => {
  it('a DP CKKS query submitted from the page is decrypted in the browser with the CKKS key file, equal to the CLI\'s result for the same release to the last digit', async () => {
    await page.goto(`${w.url}analyst/`, { waitUntil: 'load' });
    await (await page.$('#key-file'))!.uploadFile(w.fed.analystKeyPath('alice'));
    await page.waitForFunction(() => !document.getElementById('query')!.hidden && /remaining ρ/.test(document.getElementById('budget-summary')!.textContent ?? ''), { timeout: 15_000 });
    // A DP histogram of age with the CKKS backend; without the CKKS key it is not submitted (nothing signed or charged).
    await page.select('#q-kind', 'histogram');
    await page.select('#q-columns', 'age');
    await page.evaluate(() => {
      const rho = document.getElementById('q-rho')!;
      rho.value = '0.5';
      rho.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await page.select('#q-backend', 'ckks');
    await page.click('#submit-query');
    await page.waitForFunction(() => /not submitted|refused/.test(document.getElementById('progress-status')?.textContent ?? ''), { timeout: 5_000 });
    expect(await page.evaluate(() => document.getElementById('progress-status')!.textContent)).toContain('needs your CKKS key file');

    await (await page.$('#ckks-key-file'))!.uploadFile(join(keys, 'alice.ckks.key'));
    const pub = loadAnalystKeyFile(join(keys, 'alice.ckks.key')).publicKey;
    await page.waitForFunction(() => /CKKS key loaded/.test(document.getElementById('ckks-key-status')!.textContent ?? ''), { timeout: 5_000 });
    expect((await ckksKeyStatus()).text).toContain(sha256Hex(pub).slice(0, 16));

    await page.evaluate(() => {
      document.getElementById('progress-status')!.textContent = '';
    });
    await page.click('#submit-query');
    await page.waitForFunction(() => /decrypted here\)|: failed|cannot/.test(document.getElementById('progress-status')?.textContent ?? ''), { timeout: 90_000 });
    const shown = await page.evaluate(() => ({
      progress: document.getElementById('progress-status')!.textContent ?? '',
      status: document.getElementById('result-status')?.textContent ?? '',
      ckks: document.getElementById('result-ckks')?.textContent ?? '',
      events: [...document.querySelectorAll('#events li')].map((li) => li.textContent ?? ''),
      rows: [...document.querySelectorAll('table.results tbody tr')].map((tr) => {
        const [name, value] = [...tr.children];
        return [name!.textContent ?? '', value!.getAttribute('data-value') ?? ''] as const;
      }),
      bars: document.querySelectorAll('svg.plot rect.bar').length,
    }));
    expect(shown.progress).toContain('done (CKKS, decrypted here)');
    expect(shown.status).toMatch(/^done: 3 contributors/);
    expect(shown.status).toContain('charged ρ = 0.500');
    expect(shown.ckks).toMatch(/^CKKS: decrypted in this browser with your key \(N8192, \d+ ciphertexts? at level \d+, \d+ bytes\); key switched by /);
    expect(shown.events.some((e) => /ckks|CKKS|PCKS/.test(e))).toBe(true);
    expect(shown.bars).toBe(10);
    queryId = /query (\S+): done/.exec(shown.progress)![1]!;

    // The CLI, for the same query id: the same release, decrypted and post-processed by the same code.
    const cli = await cliResult(queryId, join(keys, 'alice.ckks.key'));
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    const out = JSON.parse(cli.stdout) as { result: QueryResult; ckks: { maxRawError: number } };
    const expected = numericFields(out.result).map(([n, v]) => [n, v === null ? '' : String(v)] as const);
    expect(shown.rows).toEqual(expected);
    expect(expected.length).toBeGreaterThan(10);

    // The release is encrypted to the key whose hash the page signed into the request (the parties check it).
    const r = await w.fed.client('alice').getResult(queryId);
    expect(r.ckks!.analystKeySha256).toBe(sha256Hex(pub));
    expect(r.resultJson).toBe(''); // the aggregator never saw the result in the clear
    await page.screenshot({ path: join(SHOTS, 'analyst-ckks.png'), fullPage: true });
    expect(errors).toEqual([]);
  }, 180_000);

  it('a wrong CKKS key file gives a clear error, never numbers: another analyst key, the public half, the Ed25519 key file, a tampered file', async () => {
    expect(queryId).not.toBe('');
    const noResult = (): Promise<{ status: string; rows: number; error: boolean }> => page.evaluate(() => ({
      status: document.getElementById('result-status')?.textContent ?? '',
      rows: document.querySelectorAll('table.results tbody tr').length,
      error: document.getElementById('result-status')?.classList.contains('error') ?? false,
    }));
    // Another CKKS key: loading it re-opens the shown result, which is refused by the key's hash.
    await (await page.$('#ckks-key-file'))!.uploadFile(join(keys, 'other.ckks.key'));
    await page.waitForFunction(() => /cannot decrypt/.test(document.getElementById('result-status')?.textContent ?? ''), { timeout: 30_000 });
    const wrong = await noResult();
    expect(wrong.status).toBe('cannot decrypt the CKKS result: the result was encrypted to another analyst key than the one given');
    expect(wrong.error).toBe(true);
    expect(wrong.rows).toBe(0);

    // Files that are not a CKKS key pair: refused when loaded, with what they are.
    const pubFile = join(keys, 'alice.ckks.key.pub');
    await (await page.$('#ckks-key-file'))!.uploadFile(pubFile);
    await page.waitForFunction(() => /public half/.test(document.getElementById('ckks-key-status')!.textContent ?? ''), { timeout: 5_000 });
    expect(await ckksKeyStatus()).toEqual({ text: 'alice.ckks.key.pub is not a blindsum CKKS analyst key (this is the public half, .pub: give the key file itself) (create one with: blindsum analyst ckks-keygen)', error: true });
    await (await page.$('#ckks-key-file'))!.uploadFile(w.fed.analystKeyPath('alice'));
    await page.waitForFunction(() => /alice\.key is not a blindsum CKKS analyst key/.test(document.getElementById('ckks-key-status')!.textContent ?? ''), { timeout: 5_000 });
    const garbled = join(keys, 'garbled.ckks.key');
    writeFileSync(garbled, JSON.stringify({ type: 'blindsum-ckks-analyst-key', params: 'N8192', publicKey: 'not*base64', secretKey: '' }));
    await (await page.$('#ckks-key-file'))!.uploadFile(garbled);
    await page.waitForFunction(() => /garbled\.ckks\.key is not a blindsum CKKS analyst key: publicKey: expected base64/.test(document.getElementById('ckks-key-status')!.textContent ?? ''), { timeout: 5_000 });
    // A refused file leaves no key: the result is not decrypted with a leftover one.
    await page.evaluate(() => {
      (document.querySelector('#ledger-table tbody tr button') as unknown as { click(): void }).click();
    });
    await page.waitForFunction(() => /load your CKKS key file/.test(document.getElementById('progress-status')?.textContent ?? ''), { timeout: 15_000 });
    expect((await noResult()).rows).toBe(0);

    // A key file whose public key is the right one but whose secret key is another's: decryption yields no grid values.
    const good = loadAnalystKeyFile(join(keys, 'alice.ckks.key'));
    const other = loadAnalystKeyFile(join(keys, 'other.ckks.key'));
    const tampered = join(keys, 'tampered.ckks.key');
    writeFileSync(tampered, JSON.stringify({ type: 'blindsum-ckks-analyst-key', params: good.params, publicKey: Buffer.from(good.publicKey).toString('base64'), secretKey: Buffer.from(other.secretKey).toString('base64') }));
    await (await page.$('#ckks-key-file'))!.uploadFile(tampered);
    await page.waitForFunction(() => /cannot decrypt/.test(document.getElementById('result-status')?.textContent ?? ''), { timeout: 30_000 });
    const t = await noResult();
    expect(t.status).toMatch(/^cannot decrypt the CKKS result: release refused: values\[\d+\]: .* is not an exact integer \(decryption failed or the key is wrong\)$/);
    expect(t.rows).toBe(0);
    expect(errors).toEqual([]);
  }, 120_000);
});
