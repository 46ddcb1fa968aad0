/**
 * The auditor page in a real browser (issue 20 item 4): a real federation (aggregator + 3 party
 * processes over gRPC) answers an exact and a DP query; its transcript is exported with its blobs,
 * the parties' receipts and sent logs are collected; the page (built with web/build.ts into a
 * temporary directory, served by a static server inside this test under the CSP of docs/web.md)
 * is loaded in headless Chromium, given the files through its file inputs, and must
 *   - verify the real export, with exactly the report `blindsum audit verify` prints on the same
 *     files (the CLI is run as a process), every check listed with its status in words;
 *   - catch a copy with one byte of one entry flipped, and a copy rewritten by the aggregator
 *     (a released value changed, the chain re-signed with its own key), showing the first failure
 *     at the entry and with the reason the CLI gives;
 *   - send no request but for its own assets, and raise no CSP violation.
 * Screenshots go to docs/web/auditor-*.png with BLINDSUM_UPDATE_SCREENSHOTS=1, else to a temporary
 * directory. Chromium: $BLINDSUM_CHROMIUM or /usr/bin/chromium; skipped (reason printed) only when
 * Chromium or puppeteer-core is absent.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAnalystKey } from '../client/ckks-analyst.ts';
import { CLI_PATH, LocalFederation } from '../cli/federation.ts';
import { fromUtf8, utf8 } from '../crypto/bytes.ts';
import { decodeEntry, EntryKind } from '../crypto/transcript.ts';
import { blobDirOf, exportTranscript, loadReceipts, verifyFiles } from '../services/audit/audit.ts';
import { formatReport } from '../services/audit/verify-report.ts';
import type { ReleasedRecord } from '../services/common/transcript-records.ts';
import { exportedEntries, parseTranscript, serializeTranscript } from '../services/common/transcript-file.ts';
import { AGGREGATOR_KEY_FILE } from '../services/aggregator/transcript-log.ts';
import { directoryBlobs } from '../services/common/blobs.ts';
import { loadIdentityFile } from '../services/common/keys.ts';
import { splitCsvText, type Query } from '../stats/index.ts';
import { buildPage } from '../web/build.ts';
import { rebuildTranscript, resignEntry } from './transcript-forge.ts';
import { AUDITOR_CSP, type Browser, type Page, readPage, type PageView } from './web-auditor-helpers.ts';
import { browserSkipReason, CHROMIUM } from './chromium.ts';

const skipReason = browserSkipReason;
if (skipReason) process.stderr.write(`test/web-auditor-browser.test.ts SKIPPED: ${skipReason}\n`);

const schemaPath = 'examples/pbc/schema.json';
const dir = mkdtempSync(join(tmpdir(), 'blindsum-web-auditor-'));
const site = join(dir, 'site');
const shots = process.env['BLINDSUM_UPDATE_SCREENSHOTS'] === '1' ? 'docs/web' : join(dir, 'shots');
const transcriptPath = join(dir, 'transcript.json');
let fed: LocalFederation | undefined;
let server: Server | undefined;
let browser: Browser | undefined;
let base = '';
/** Every path the page requested from the server. */
const requested: string[] = [];

const MIME: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };

/** A static server for the built pages only (the real one is the aggregator's --web-listen). */
function serve(root: string): Promise<string> {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requested.push(url.pathname);
    // Under /no-wasm/ the same files, with a header CSP that refuses WebAssembly (both policies apply).
    const noWasm = url.pathname.startsWith('/no-wasm/');
    const rel = noWasm ? url.pathname.slice('/no-wasm'.length) : url.pathname;
    const path = normalize(join(root, rel.endsWith('/') ? `${rel}index.html` : rel));
    if (req.method !== 'GET' || !path.startsWith(root) || !existsSync(path) || !statSync(path).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': MIME[extname(path)] ?? 'application/octet-stream', 'content-security-policy': noWasm ? AUDITOR_CSP.replace(" 'wasm-unsafe-eval'", '') : AUDITOR_CSP, 'x-content-type-options': 'nosniff' });
    res.end(readFileSync(path));
  });
  return new Promise((resolve) => server!.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server!.address() as { port: number }).port}`)));
}

/** The CLI's report on files: `blindsum audit verify` as a process (exit code and stdout). */
function cliVerify(path: string, blobs = blobDirOf(transcriptPath)): { status: number | null; stdout: string } {
  const r = spawnSync(process.execPath, [CLI_PATH, 'audit', 'verify', path, '--roster', fed!.rosterPath, '--analysts', fed!.analystsPath, '--schema', schemaPath, '--receipts', fed!.receiptsDir, '--blobs', blobs], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout };
}

/**
 * What the CLI verifier says on files, in this process: the same verifyFiles and formatReport that
 * cli/commands/audit.ts runs and prints (a process per tampered file would only add start-up time).
 */
async function cliReport(path: string, blobDir = blobDirOf(transcriptPath)): Promise<{ ok: boolean; text: string }> {
  const r = await verifyFiles({ transcriptPath: path, rosterPath: fed!.rosterPath, analystsPath: fed!.analystsPath, schemaPath, receiptPaths: [fed!.receiptsDir], blobDir });
  return { ok: r.ok, text: formatReport(r) };
}

/** The party files the CLI reads from the receipts directory: *.receipts.jsonl and *.sent.jsonl. */
function partyFiles(): string[] {
  return readdirSync(fed!.receiptsDir).filter((f) => f.endsWith('.receipts.jsonl') || f.endsWith('.sent.jsonl')).sort().map((f) => join(fed!.receiptsDir, f));
}

/** Opens the page, gives it the files through its inputs (keyboard-reachable controls), presses Verify, reads the result. */
async function verifyInBrowser(path: string, blobDir: string, shot: string, opts: { prefix?: string; violations?: RegExp } = {}): Promise<PageView> {
  const page: Page = await browser!.newPage();
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
  });
  try {
    await page.setViewport({ width: 1100, height: 900 });
    await page.goto(`${base}${opts.prefix ?? ''}/auditor/`, { waitUntil: 'load' });
    const upload = async (id: string, paths: string[]): Promise<void> => (await page.$(`#${id}`))!.uploadFile(...paths);
    await upload('transcript', [path]);
    await upload('roster', [fed!.rosterPath]);
    await upload('analysts', [fed!.analystsPath]);
    await upload('schema', [schemaPath]);
    await upload('receipts', partyFiles());
    const blobs = readdirSync(blobDir).map((f) => join(blobDir, f));
    if (blobs.length) await upload('blobs', blobs);
    await page.focus('#verify');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#verdict', { timeout: 30_000 });
    const view = await page.evaluate(readPage);
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, shot), fullPage: true });
    if (opts.violations) {
      expect(violations.length).toBeGreaterThan(0);
      for (const v of violations) expect(v).toMatch(opts.violations);
    } else {
      expect(violations).toEqual([]);
    }
    return view;
  } finally {
    await page.close();
  }
}

beforeAll(async () => {
  if (skipReason) return;
  await buildPage('auditor', site);
  fed = await LocalFederation.start({ dir, schemaPath, partyData: splitCsvText(readFileSync('examples/pbc/pbc.csv', 'utf8'), 3, 'web-auditor'), threshold: 2, roundTimeoutMs: 20_000, ckks: true });
  await fed.waitCollectiveKey();
  const c = fed.client();
  try {
    // A CKKS query: the browser recomputes the collective key and the homomorphic sum with node-seal (WebAssembly).
    const ck = await c.run({ kind: 'mean', columns: ['age'], filter: [] }, { backend: 'ckks', ckksKey: await generateAnalystKey() });
    expect(ck.status, ck.error).toBe('done');
    const queries: [Query, { rho: number } | undefined][] = [[{ kind: 'count', columns: [], filter: [] }, undefined], [{ kind: 'frequency', columns: ['stage'], filter: [] }, { rho: 0.5 }]];
    for (const [q, privacy] of queries) {
      const o = await c.run(q, privacy ? { privacy } : {});
      expect(o.status, o.error).toBe('done');
    }
  } finally {
    c.close();
  }
  const file = exportTranscript(fed.aggregatorDataDir, {}, transcriptPath);
  // The parties write their receipts as they arrive: wait for one per party entry.
  const partyEntries = file.entries.filter((l) => decodeEntry(l.entry).sender.startsWith('hospital-')).length;
  for (let i = 0; i < 400 && loadReceipts([fed.receiptsDir]).length < partyEntries; i++) await new Promise((r) => setTimeout(r, 50));
  base = await serve(site);
  const moduleName = 'puppeteer-core';
  const puppeteer = ((await import(moduleName)) as { default: { launch(o: object): Promise<Browser> } }).default;
  browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new', '--disable-gpu'], headless: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
  await fed?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(skipReason !== '')(`the auditor page in headless Chromium${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('verifies a real export in the browser with the report blindsum audit verify prints, each check with its status in words', async () => {
    const cli = cliVerify(transcriptPath);
    expect(cli.status, cli.stdout).toBe(0);
    const v = await verifyInBrowser(transcriptPath, blobDirOf(transcriptPath), 'auditor-verified.png');
    expect(v.verdictStatus).toBe('ok');
    expect(v.verdict).toMatch(/^VERIFIED: every signature, the hash chain/);
    expect(v.cliReport).toBe(cli.stdout.trimEnd());
    // The table lists the CLI's lines, one check per line, with the status in words (not colour alone).
    expect(v.rows.map((r) => r.details)).toEqual(cli.stdout.trimEnd().split('\n').map((l) => l.trim()));
    expect(v.rows.filter((r) => r.check.startsWith('query ') || r.check.startsWith('key ceremony ')).map((r) => r.statusText)).toEqual(['✓ passed', '✓ passed', '✓ passed', '✓ passed']);
    // The CKKS checks ran in the browser (node-seal's WebAssembly under the page's CSP): key and sum recomputed.
    expect(v.cliReport).toMatch(/key recomputed from the logged shares and CRS nonces/);
    expect(v.cliReport).toMatch(/homomorphic sum recomputed from the logged inputs/);
    expect(v.rows.find((r) => r.check === 'receipts')!.details).toMatch(/^receipts: [1-9]\d* checked against the chain/);
    expect(v.rows.find((r) => r.check === 'analyst signatures')!.statusText).toBe('✓ passed');
    expect(v.failure).toBeUndefined();
    // Nothing but the page's own assets (and the browser's own favicon request) was requested: the files stayed in the browser.
    expect(requested.filter((p) => !/^\/(favicon\.ico|(no-wasm\/)?auditor\/(|main\.js|style\.css|seal_throws\.wasm))$/.test(p))).toEqual([]);
  }, 60_000);

  it('catches one flipped byte in one entry: the first failure at that entry, as the CLI says', async () => {
    const o = JSON.parse(readFileSync(transcriptPath, 'utf8')) as { entries: { entry: string }[] };
    const k = 5;
    const bytes = Buffer.from(o.entries[k]!.entry, 'base64');
    bytes[bytes.length - 3]! ^= 0x01;
    o.entries[k]!.entry = bytes.toString('base64');
    const path = join(dir, 'flipped.json');
    writeFileSync(path, JSON.stringify(o));
    const cli = await cliReport(path);
    expect(cli.ok).toBe(false);
    const v = await verifyInBrowser(path, blobDirOf(transcriptPath), 'auditor-flipped.png');
    expect(v.verdictStatus).toBe('failed');
    expect(v.failure!.index).toBe(String(k));
    expect(v.failure!.reason).toMatch(/chain hash mismatch|do not decode/);
    expect(v.cliReport).toBe(cli.text);
    expect(cli.text).toContain(`FAILED at entry ${k} (${v.failure!.kind}): ${v.failure!.reason}`);
  }, 60_000);

  it('catches a released value changed by the aggregator, chain re-signed with its own key: failure at the release, as the CLI says', async () => {
    const file = parseTranscript(readFileSync(transcriptPath, 'utf8'));
    file.blobs = directoryBlobs(blobDirOf(transcriptPath));
    const entries = exportedEntries(file);
    // The secure-aggregation count's release (a CKKS release holds no exact sums).
    const at = entries.findIndex((e) => e.kind === EntryKind.Released && (JSON.parse(fromUtf8(e.body)) as ReleasedRecord).exactSums.length > 0);
    const rec = JSON.parse(fromUtf8(entries[at]!.body)) as ReleasedRecord;
    rec.exactSums = rec.exactSums.map((s, i) => (i === 0 ? String(BigInt(s) + 1n) : s));
    const aggSecret = loadIdentityFile(join(fed!.aggregatorDataDir, AGGREGATOR_KEY_FILE)).identity.secretKey;
    entries[at] = resignEntry(aggSecret, entries[at]!, utf8(JSON.stringify(rec)));
    const forged = rebuildTranscript(file, entries, aggSecret);
    const path = join(dir, 'forged.json');
    writeFileSync(path, serializeTranscript(forged));
    const cli = await cliReport(path);
    expect(cli.ok).toBe(false);
    const v = await verifyInBrowser(path, blobDirOf(transcriptPath), 'auditor-forged.png');
    expect(v.verdictStatus).toBe('failed');
    expect(v.failure!.index).toBe(String(at));
    expect(v.failure!.reason).toMatch(/released sums are not the unmasked sum of the logged masked inputs/);
    expect(v.cliReport).toBe(cli.text);
  }, 60_000);

  it('without the blobs: the checks that need their bytes are listed as NOT checked, never as passed, as the CLI lists them', async () => {
    const empty = join(dir, 'no-blobs');
    mkdirSync(empty, { recursive: true });
    const cli = await cliReport(transcriptPath, empty);
    const v = await verifyInBrowser(transcriptPath, empty, 'auditor-without-blobs.png');
    expect(v.cliReport).toBe(cli.text);
    expect(v.verdictStatus).toBe('not-checked');
    expect(v.verdict).toMatch(/^VERIFIED EXCEPT \d+ checks? NOT run/);
    const notRun = v.rows.filter((r) => r.status === 'not-checked');
    expect(notRun.length).toBeGreaterThan(1);
    for (const r of notRun) expect(r.statusText).toBe('⚠ NOT checked');
    expect(v.rows.filter((r) => r.check === 'NOT checked').map((r) => r.details).join('\n')).toMatch(/homomorphic sum NOT recomputed|sums and result NOT recomputed/);
  }, 60_000);

  it('under a CSP without wasm-unsafe-eval: the CKKS checks are listed as NOT checked, with the reason, never as passed or failed', async () => {
    const v = await verifyInBrowser(transcriptPath, blobDirOf(transcriptPath), 'auditor-no-wasm.png', { prefix: '/no-wasm', violations: /WebAssembly|wasm-unsafe-eval|Content Security Policy/i });
    expect(v.verdictStatus).toBe('not-checked');
    expect(v.verdict).toMatch(/^VERIFIED EXCEPT 1 check NOT run .*; the CKKS keys and sums were not recomputed \(node-seal could not run here\)/);
    expect(v.rows.find((r) => r.check === 'NOT checked')!.details).toMatch(/^NOT checked: CKKS collective keys and homomorphic sums NOT recomputed: node-seal \(WebAssembly\) could not run here: /);
    // The CKKS key ceremony and query lines say "not recomputed" and are not passed; the secure-aggregation queries are.
    const rows = v.rows.filter((r) => r.check.startsWith('query ') || r.check.startsWith('key ceremony '));
    expect(rows.filter((r) => r.status === 'not-checked').map((r) => r.details)).toEqual([expect.stringMatching(/key not recomputed/), expect.stringMatching(/homomorphic sum not recomputed/)]);
    expect(rows.filter((r) => r.status === 'ok').length).toBe(2);
    expect(v.rows.some((r) => r.status === 'failed')).toBe(false);
  }, 60_000);
});
