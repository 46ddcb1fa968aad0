/**
 * The analyst page (docs/web.md): sign in with the key file, compose a query from the schema with
 * its DP cost and expected noise shown before submitting, sign and submit it, watch its rounds
 * live, read the result (table, plot, CSV/JSON), and see the query history and budget ledger.
 * A CKKS result is decrypted, rounded and post-processed in this page with the analyst's CKKS key,
 * by the CLI's code (client/outcome.ts openCkksOutcome, node-seal's WebAssembly).
 */
import type { GetBudgetResponse, GetResultResponse, ListPartiesResponse } from '../../../gen/blindsum/v1/blindsum.ts';
import { parseSchema, type Schema } from '../../../stats/schema.ts';
import { describeQuery, validateQuery } from '../../../stats/query.ts';
import { epsilonFromRho } from '../../../crypto/dp/accountant.ts';
import { WebAnalystClient, type SignedInAnalyst } from '../../lib/analyst-client.ts';
import { ConnectCallError } from '../../lib/connect-client.ts';
import { byId, el, replace } from '../../lib/dom.ts';
import { previewNoise } from '../../lib/noise-preview.ts';
import { downloadLink, parseResult, resultCsv, resultJson, resultPlot, resultTable } from '../../lib/results.ts';
import { openCkksOutcome } from '../../../client/outcome.ts';
import { queryFromProto } from '../../../services/common/query-codec.ts';
import { MAX_RAW_DECRYPTION_ERROR } from '../../../stats/release-check.ts';
import { ComposeForm } from './compose.ts';
import { ckksKey, wireCkksKey } from './ckks-key.ts';
import { wireSignIn } from './signin.ts';

const REPORT_DELTA = 1e-6;

interface Session {
  client: WebAnalystClient;
  parties: ListPartiesResponse;
  schema: Schema;
  form: ComposeForm;
  budget: GetBudgetResponse | undefined;
}

let session: Session | undefined;
let watching: AbortController | undefined;

const show = (id: string): void => byId(id).removeAttribute('hidden');
const message = (e: unknown): string => (e instanceof ConnectCallError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e));
const time = (ms: bigint | number): string => new Date(Number(ms)).toLocaleTimeString();
const rhoText = (rho: number): string => `ρ = ${rho.toPrecision(3)} (ε ≈ ${epsilonFromRho(rho, REPORT_DELTA).toPrecision(3)} at δ = ${REPORT_DELTA})`;

async function signedIn(me: SignedInAnalyst): Promise<void> {
  const client = new WebAnalystClient(me);
  try {
    const parties = await client.listParties();
    const schema = parseSchema(JSON.parse(parties.schemaJson));
    const form = new ComposeForm(schema, () => updatePreview(), () => void submit());
    replace(byId('compose-host'), form.element);
    session = { client, parties, schema, form, budget: undefined };
    const connected = parties.parties.filter((p) => p.connected).length;
    replace(byId('federation-summary'), `Federation "${parties.federation}": ${connected} of ${parties.parties.length} parties connected; a result needs at least t = ${parties.threshold} contributors (collusion bound c = ${parties.collusion}). Schema "${schema.name}".`);
    for (const id of ['federation', 'query', 'history']) show(id);
    await refreshBudget();
    updatePreview();
  } catch (e) {
    replace(byId('signin-status'), `signed in as ${me.id}, but the aggregator answered: ${message(e)}`);
    byId('signin-status').classList.add('error');
  }
}

async function refreshBudget(): Promise<void> {
  const s = session!;
  try {
    s.budget = await s.client.getBudget();
    const b = s.budget;
    replace(byId('budget-summary'), `Budget of ${b.analyst}: spent ρ = ${b.spentRho.toPrecision(4)} of ${b.limitRho}; remaining ρ = ${b.remainingRho.toPrecision(4)}.`);
    renderLedger(b);
  } catch (e) {
    replace(byId('budget-summary'), `budget unavailable: ${message(e)}`);
  }
  updatePreview();
}

/** The cost and expected noise of the query as composed (or why it is not valid yet). */
function updatePreview(): void {
  const s = session;
  if (!s) return;
  const box = byId('preview');
  let composed;
  try {
    composed = s.form.read();
    validateQuery(composed.query, s.schema);
  } catch (e) {
    replace(box, el('p', { class: 'error' }, `Not ready: ${message(e)}`));
    return;
  }
  if (!composed.privacy) {
    replace(box, el('p', {}, `${describeQuery(composed.query)}: exact (no noise, no budget); refused unless the aggregator and every party allow exact queries.`));
    return;
  }
  try {
    const p = previewNoise(composed.query, s.schema, composed.privacy, { parties: s.parties.parties.length, threshold: s.parties.threshold, collusion: s.parties.collusion });
    const remaining = s.budget?.remainingRho;
    const over = remaining !== undefined && p.rho > remaining + 1e-12;
    replace(box,
      el('p', { class: over ? 'error' : '' }, `${describeQuery(composed.query)}: costs ${rhoText(p.rho)}; remaining budget ρ = ${remaining === undefined ? '?' : remaining.toPrecision(4)}${over ? ' — more than remains: the aggregator will refuse it' : ''}.`),
      el('table', { class: 'noise', id: 'noise-table' },
        el('caption', {}, `Expected noise sd of each released entry (${p.entryCount} entries${p.entryCount > p.entries.length ? `, first ${p.entries.length} shown` : ''})`),
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'entry'), el('th', { scope: 'col' }, `sd, all ${s.parties.parties.length} parties`), el('th', { scope: 'col' }, `sd, t = ${s.parties.threshold} parties`))),
        el('tbody', {}, ...p.entries.map((e) => el('tr', {}, el('th', { scope: 'row' }, e.name), el('td', {}, e.sdAll.toPrecision(3)), el('td', {}, e.sdThreshold.toPrecision(3)))))));
  } catch (e) {
    replace(box, el('p', { class: 'error' }, `Not ready: ${message(e)}`));
  }
}

async function submit(): Promise<void> {
  const s = session!;
  const status = byId('progress-status');
  show('progress');
  replace(byId('events'));
  let composed;
  try {
    composed = s.form.read();
    validateQuery(composed.query, s.schema);
  } catch (e) {
    replace(status, `not submitted: ${message(e)}`);
    status.classList.add('error');
    return;
  }
  status.classList.remove('error');
  replace(status, 'signing and submitting…');
  const button = byId<HTMLButtonElement>('submit-query');
  button.disabled = true; // one submission per click
  let queryId: string | undefined;
  try {
    const key = ckksKey();
    if (composed.backend === 'ckks' && !key) throw new Error('backend CKKS needs your CKKS key file (load it under Sign in): the result is encrypted to it');
    queryId = (await s.client.submit(composed.query, composed.privacy, { backend: composed.backend, ...(key && composed.backend === 'ckks' ? { ckksPublicKey: key.publicKey } : {}) })).queryId;
    replace(status, `query ${queryId} submitted; watching its rounds`);
    await watch(queryId);
  } catch (e) {
    replace(status, queryId ? `query ${queryId}: lost its progress stream (${message(e)}); its result can be opened from the ledger` : `refused: ${message(e)}`);
    status.classList.add('error');
  } finally {
    button.disabled = false;
  }
  await refreshBudget();
}

async function watch(queryId: string): Promise<void> {
  const s = session!;
  watching?.abort();
  watching = new AbortController();
  const list = byId('events');
  await s.client.watch(queryId, (ev) => {
    list.appendChild(el('li', { class: ev.stage === 'failed' ? 'error' : '' }, `${time(ev.atMs)} ${ev.stage}${ev.message ? `: ${ev.message}` : ''}`));
  }, watching.signal);
  await loadResult(queryId);
}

let lastResultId: string | undefined;

async function loadResult(queryId: string): Promise<void> {
  const s = session!;
  lastResultId = queryId;
  const status = byId('progress-status');
  let r: GetResultResponse;
  try {
    r = await s.client.getResult(queryId);
  } catch (e) {
    replace(status, `cannot read the result: ${message(e)}`);
    status.classList.add('error');
    return;
  }
  show('result');
  show('progress');
  const body = byId('result-body');
  let p = parseResult(r);
  let ckksLine: string | undefined;
  if (r.status === 'done' && r.ckks) {
    const key = ckksKey();
    if (!key) {
      replace(status, `query ${r.queryId}: done (CKKS); load your CKKS key file to decrypt it`);
      replace(body, el('p', { id: 'result-status' }, `done: the result is encrypted to your CKKS key (public key SHA-256 ${r.ckks.analystKeySha256.slice(0, 16)}…); load that CKKS key file under Sign in and it is decrypted in this page.`));
      return;
    }
    replace(status, `query ${r.queryId}: done (CKKS); decrypting in this browser…`);
    try {
      const o = await openCkksOutcome(queryFromProto(r.query), r, key);
      p = { response: r, result: o.result, uncertainty: o.uncertainty };
      if (!o.result) throw new Error(`decrypted, but the post-processing failed: ${o.error}`);
      const c = o.ckks!;
      ckksLine = `CKKS: decrypted in this browser with your key (${c.params}, ${c.ciphertexts} ciphertext${c.ciphertexts > 1 ? 's' : ''} at level ${c.level}, ${c.bytes} bytes); key switched by ${c.decryptors.join(', ')}; largest error before rounding ${c.maxRawError.toExponential(2)} grid units (refused above ${MAX_RAW_DECRYPTION_ERROR}); every sum checked against the plan's range.`;
    } catch (e) {
      replace(status, `query ${r.queryId}: done (CKKS), but it cannot be decrypted here`);
      status.classList.add('error');
      replace(body, el('p', { id: 'result-status', class: 'error' }, `cannot decrypt the CKKS result: ${message(e)}`));
      return;
    }
  }
  if (r.status !== 'done' || !p.result) {
    replace(status, `query ${r.queryId}: ${r.status}${r.error ? ` — ${r.error}` : ''}`);
    status.classList.toggle('error', r.status === 'failed');
    replace(body, el('p', { id: 'result-status', class: r.status === 'failed' ? 'error' : '' }, `${r.status}${r.error ? `: ${r.error}` : ''}`),
      r.refusals.length ? el('p', {}, `refused by: ${r.refusals.map((x) => `${x.partyId} (${x.reason})`).join('; ')}`) : null);
    return;
  }
  status.classList.remove('error');
  replace(status, `query ${r.queryId}: done${r.ckks ? ' (CKKS, decrypted here)' : ''}`);
  const plot = resultPlot(p.result);
  replace(body,
    el('p', { id: 'result-status' }, `done: ${r.contributors.length} contributors (${r.contributors.join(', ')}); ${r.rhoCharged > 0 ? `charged ${rhoText(r.rhoCharged)}, spent ${rhoText(r.rhoSpent)} with these contributors` : 'exact'}.`),
    ckksLine ? el('p', { id: 'result-ckks' }, ckksLine) : null,
    r.refusals.length ? el('p', {}, `refused by: ${r.refusals.map((x) => `${x.partyId} (${x.reason})`).join('; ')}`) : null,
    p.result.notes.length ? el('ul', { class: 'notes' }, ...p.result.notes.map((n) => el('li', {}, n))) : null,
    plot ?? null,
    resultTable(p),
    el('p', {}, downloadLink('Download CSV', `${r.queryId}.csv`, 'text/csv', resultCsv(p)), ' ', downloadLink('Download JSON', `${r.queryId}.json`, 'application/json', resultJson(p))),
  );
}

function renderLedger(b: GetBudgetResponse): void {
  const rows = [...b.entries].reverse();
  replace(byId('ledger'), el('table', { class: 'ledger', id: 'ledger-table' },
    el('caption', {}, `Budget ledger of ${b.analyst} (newest first): every charge and refund the aggregator recorded`),
    el('thead', {}, el('tr', {}, ...['time', 'query', 'entry', 'ρ', 'reason', ''].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...rows.map((e) => el('tr', {},
      el('td', {}, time(e.atMs)), el('td', {}, el('code', {}, e.queryId.slice(0, 8))), el('td', {}, e.kind), el('td', {}, e.rho.toPrecision(3)), el('td', {}, e.reason),
      el('td', {}, el('button', { type: 'button', 'aria-label': `show the result of query ${e.queryId}`, onclick: () => void loadResult(e.queryId) }, 'Show result')))))));
}

wireSignIn((me) => void signedIn(me));
wireCkksKey(() => {
  // A CKKS result shown as "encrypted" (no key yet) is decrypted once the key is loaded.
  const id = lastResultId;
  if (session && id) void loadResult(id);
});
