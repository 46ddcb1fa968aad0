/**
 * The auditor page builds for a strict CSP without a browser (the browser test,
 * test/web-auditor-browser.test.ts, is skipped where Chromium is absent): the verifier and all it
 * imports bundle for the browser platform (esbuild fails on any `node:` import), the bundle needs
 * no eval, node-seal's WebAssembly is copied beside it, the HTML has no inline script, style or
 * handler, and its CSP is the one docs/web.md documents.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildPage } from '../web/build.ts';
import { AUDITOR_CSP } from './web-auditor-helpers.ts';

const out = mkdtempSync(join(tmpdir(), 'blindsum-web-auditor-bundle-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('the auditor page bundle', () => {
  it('bundles the verifier for the browser, with no eval, node-seal\'s WebAssembly beside it, no inline code, and the documented CSP', async () => {
    await buildPage('auditor', out);
    const js = readFileSync(join(out, 'auditor', 'main.js'), 'utf8');
    expect(js).not.toMatch(/\beval\(|new Function\(/);
    expect(js).not.toMatch(/from\s*["']node:|import\(\s*["']node:|require\(\s*["']node:/);
    // The verifier's code is in it (the report wording of verify-report.ts, a reason of verify.ts).
    expect(js).toContain('VERIFIED: every signature, the hash chain');
    expect(js).toContain('chain hash mismatch');
    expect(statSync(join(out, 'auditor', 'seal_throws.wasm')).size).toBeGreaterThan(500_000);
    const html = readFileSync(join(out, 'auditor', 'index.html'), 'utf8');
    for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)) {
      expect(m[1]).toMatch(/\bsrc="main\.js"/);
      expect(m[2]!.trim()).toBe('');
    }
    expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=|javascript:/i);
    expect(AUDITOR_CSP).toBe("default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'");
    expect(readFileSync('docs/web.md', 'utf8')).toContain(`    ${AUDITOR_CSP}\n`);
    // Every input is labelled.
    for (const m of html.matchAll(/<input\b[^>]*\bid="([^"]+)"/g)) expect(html).toContain(`<label for="${m[1]}">`);
  }, 60_000);
});
