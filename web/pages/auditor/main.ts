/**
 * The auditor page (docs/web.md § Auditor page): verifies an exported transcript in the browser
 * with the code of `blindsum audit verify` (services/audit/verify-parsed.ts → verify.ts,
 * verify-ckks*.ts), on files read locally with the File API. Nothing is sent anywhere: the page
 * makes no request but for its own assets (node-seal's WebAssembly, fetched from this origin when
 * a transcript holds CKKS queries).
 *
 * It shows every line of the CLI's report as a check with its status in words, the first failure
 * with its entry index, kind and reason, and the report exactly as the CLI prints it.
 */
import { isBlobName } from '../../../services/common/blobs.ts';
import { loadSeal } from '../../../crypto/ckks/seal.ts';
import { needsCkks, parseAuditTexts, receiptsFileRole, verifyParsed, type NamedText, type VerifyParsedOptions } from '../../../services/audit/verify-parsed.ts';
import { formatReport, reportChecks, type CheckStatus, type VerifyReport } from '../../../services/audit/verify-report.ts';
import { byId, el, replace } from '../../lib/dom.ts';

/** Inputs larger than this are refused before reading (a transcript export is JSON held in memory). */
const MAX_TEXT_BYTES = 512 * 1024 * 1024;
const MAX_BLOB_BYTES = 1 << 30;

const STATUS_TEXT: Record<CheckStatus, string> = {
  ok: '✓ passed',
  failed: '✗ FAILED',
  'not-checked': '⚠ NOT checked',
  partial: '◐ partial',
  examine: '⚠ examine',
  info: '· info',
};

interface Picked {
  transcript: File;
  roster: File;
  analysts?: File;
  schema?: File;
  receipts: File[];
  blobs: File[];
}

const input = (id: string): HTMLInputElement => byId<HTMLInputElement>(id);
const files = (id: string): File[] => Array.from(input(id).files ?? []);

function picked(): Picked | string {
  const [transcript] = files('transcript');
  const [roster] = files('roster');
  if (!transcript) return 'Choose the exported transcript file.';
  if (!roster) return 'Choose the federation roster (roster.json).';
  const [analysts] = files('analysts');
  const [schema] = files('schema');
  return {
    transcript, roster, ...(analysts ? { analysts } : {}), ...(schema ? { schema } : {}),
    // As the CLI reads a receipts directory: in file-name order.
    receipts: files('receipts').sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    blobs: files('blobs'),
  };
}

async function text(f: File): Promise<NamedText> {
  if (f.size > MAX_TEXT_BYTES) throw new InputError(`${f.name}: ${f.size} bytes, more than this page reads (${MAX_TEXT_BYTES})`);
  return { name: f.name, text: await f.text() };
}

class InputError extends Error {}

/** The blob files by name; files not named by a hex digest are ignored, as in FILE.blobs (counted). */
async function readBlobs(list: readonly File[]): Promise<{ blobs: Map<string, Uint8Array>; ignored: string[] }> {
  const blobs = new Map<string, Uint8Array>();
  const ignored: string[] = [];
  for (const f of list) {
    if (!isBlobName(f.name) || f.size > MAX_BLOB_BYTES) {
      ignored.push(f.name);
      continue;
    }
    blobs.set(f.name, new Uint8Array(await f.arrayBuffer()));
  }
  return { blobs, ignored };
}

function status(message: string): void {
  byId('status').textContent = message;
}

function renderError(kind: string, message: string): void {
  replace(byId('result'), el('p', { class: 'verdict error', role: 'alert', id: 'verdict', 'data-status': 'error' }, `${kind}: ${message}`),
    el('p', {}, 'Nothing was verified: no check is reported as passed.'));
}

function renderReport(r: VerifyReport, loaded: string): void {
  const checks = reportChecks(r);
  const verdict = checks[checks.length - 1]!;
  const rows = checks.map((c, i) =>
    el('tr', { 'data-status': c.status, 'data-check': c.check },
      el('td', {}, String(i + 1)),
      el('th', { scope: 'row' }, c.check),
      el('td', { class: `status ${c.status}` }, c.status === 'partial' && !r.ok ? '◐ up to the failure' : STATUS_TEXT[c.status]),
      el('td', { class: 'details' }, c.text)));
  const failure = r.failure
    ? el('section', { class: 'failure', id: 'failure', 'aria-labelledby': 'failure-title' },
        el('h3', { id: 'failure-title' }, 'First failure'),
        el('dl', {},
          el('dt', {}, 'Entry'), el('dd', { id: 'failure-index' }, String(r.failure.index)),
          el('dt', {}, 'Kind'), el('dd', { id: 'failure-kind' }, r.failure.kind),
          el('dt', {}, 'Reason'), el('dd', { id: 'failure-reason' }, r.failure.reason)),
        el('p', {}, `Verification stops at the first failure: entries after ${r.failure.index} were not checked, and the checks above it hold only up to it.`))
    : null;
  replace(byId('result'),
    el('p', { class: `verdict ${verdict.status}`, id: 'verdict', 'data-status': verdict.status, tabindex: -1 }, verdict.text),
    failure,
    el('p', { class: 'help' }, loaded),
    el('table', { id: 'checks' },
      el('caption', {}, 'Checks, in the order of the CLI report'),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, '#'), el('th', { scope: 'col' }, 'Check'), el('th', { scope: 'col' }, 'Status'), el('th', { scope: 'col' }, 'Details'))),
      el('tbody', {}, ...rows)),
    el('details', {},
      el('summary', {}, 'The report as blindsum audit verify prints it'),
      el('pre', { id: 'cli-report' }, formatReport(r))));
  byId('verdict').focus();
}

async function verify(): Promise<void> {
  const p = picked();
  if (typeof p === 'string') {
    status(p);
    renderError('Missing input', p);
    return;
  }
  const button = byId<HTMLButtonElement>('verify');
  button.disabled = true;
  byId('result').setAttribute('aria-busy', 'true');
  try {
    status('Reading the files…');
    const { blobs, ignored } = await readBlobs(p.blobs);
    const texts = {
      transcript: await text(p.transcript), roster: await text(p.roster),
      ...(p.analysts ? { analysts: await text(p.analysts) } : {}), ...(p.schema ? { schema: await text(p.schema) } : {}),
      receipts: await Promise.all(p.receipts.map(text)), blobs,
    };
    let parsed;
    try {
      parsed = parseAuditTexts(texts);
    } catch (e) {
      // As the CLI's exit code 2: an input that cannot be read is not a verification result.
      status('Unreadable input.');
      renderError('Unreadable input', (e as Error).message);
      return;
    }
    status(`Verifying ${parsed.file.entries.length} entries…`);
    // Let the status paint before the (synchronous) replay runs.
    await new Promise((r) => setTimeout(r, 0));
    // node-seal (WebAssembly) recomputes the CKKS keys and sums: if this browser refuses it (e.g. a CSP without
    // 'wasm-unsafe-eval'), those checks are listed as NOT checked, never passed.
    const opts: VerifyParsedOptions = {};
    if (needsCkks(parsed.file)) {
      status('Loading node-seal (WebAssembly) for the CKKS checks…');
      try {
        await loadSeal();
      } catch (e) {
        opts.ckksUnavailable = (e as Error).message || String(e);
      }
      status(`Verifying ${parsed.file.entries.length} entries…`);
    }
    const report = await verifyParsed(parsed, opts);
    const sent = p.receipts.filter((f) => receiptsFileRole(f.name).role === 'sent').length;
    const loaded = `Read ${p.transcript.name} (${parsed.file.entries.length} entries), ${p.roster.name}`
      + `${p.analysts ? `, ${p.analysts.name}` : ''}${p.schema ? `, ${p.schema.name}` : ''}, ${p.receipts.length - sent} receipts files, ${sent} sent logs, `
      + `${blobs.size} blobs${ignored.length ? ` (${ignored.length} files not named by a digest ignored)` : ''}.`;
    renderReport(report, loaded);
    status(report.ok ? (report.unchecked?.length ? 'Verified, except checks that could not run.' : 'Verified.') : `Failed at entry ${report.failure!.index}.`);
  } catch (e) {
    status('Verification could not complete.');
    renderError(e instanceof InputError ? 'Input too large' : 'Verification could not complete', (e as Error).message);
  } finally {
    button.disabled = false;
    byId('result').removeAttribute('aria-busy');
  }
}

/** Dropped files go to the input their name fits: receipts and sent logs, blobs, analysts, schema, roster, else the transcript. */
function assignDropped(list: readonly File[]): void {
  const groups = new Map<string, File[]>();
  const add = (id: string, f: File): void => void groups.set(id, [...(groups.get(id) ?? []), f]);
  for (const f of list) {
    const n = f.name.toLowerCase();
    if (n.endsWith('.jsonl')) add('receipts', f);
    else if (isBlobName(f.name)) add('blobs', f);
    else if (n.includes('analysts')) add('analysts', f);
    else if (n.includes('schema')) add('schema', f);
    else if (n.includes('roster')) add('roster', f);
    else add('transcript', f);
  }
  for (const [id, fs] of groups) {
    const dt = new DataTransfer();
    for (const f of input(id).multiple ? fs : fs.slice(0, 1)) dt.items.add(f);
    input(id).files = dt.files;
  }
  status(`Dropped ${list.length} files: ${[...groups].map(([id, fs]) => `${id} ${fs.map((f) => f.name).join(', ')}`).join('; ')}. Check the inputs, then press Verify.`);
}

function main(): void {
  const form = byId<HTMLFormElement>('inputs');
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void verify();
  });
  form.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    form.classList.add('dragging');
  });
  form.addEventListener('dragleave', () => form.classList.remove('dragging'));
  form.addEventListener('drop', (ev) => {
    ev.preventDefault();
    form.classList.remove('dragging');
    assignDropped(Array.from(ev.dataTransfer?.files ?? []));
  });
}

main();
