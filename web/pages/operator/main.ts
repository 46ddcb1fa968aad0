/**
 * The operator page (docs/web.md, "Operator page"): the aggregator's status (GET /operator/status,
 * served only with --web-operator) read with a signed read (method "OperatorStatus", empty
 * request bytes) by an auditor's key, signed here with the CLI's code. Shows parties connected,
 * the roster, the analyst roster, the CKKS key ceremony, recent queries, failures, refusals and a
 * metrics summary. Nothing secret is served: keys appear as fingerprints.
 */
import { ListPartiesRequest, ListPartiesResponse } from '../../../gen/blindsum/v1/blindsum.ts';
import { parseIdentityKey } from '../../../services/common/key-format.ts';
import { READ_METADATA, signRead } from '../../../services/common/query-signing.ts';
import { ConnectCallError, unaryCall } from '../../lib/connect-client.ts';
import { byId, el, replace } from '../../lib/dom.ts';
import type { SignedInAnalyst } from '../../lib/analyst-client.ts';

/** The shape of services/aggregator/web/operator.ts's answer (the fields shown). */
interface Status {
  federation: string;
  nowMs: number;
  reader: string;
  roster: { threshold: number; collusion: number; aggregator: { id: string; fingerprint: string }; operator?: { id: string; fingerprint: string }; parties: { id: string; fingerprint: string; connected: boolean; lastSeenMs: number }[] };
  analysts: { version: number; entries: { id: string; role: string; fingerprint: string; budgetRho: number; spentRho: number }[] };
  ceremony: { status: string; message: string; ceremonyId?: string; params?: string; publicKeySha256?: string; parties?: string[] };
  queries: {
    recent: { id: string; analyst: string; backend: string; kind: string; status: string; submittedAtMs: number; finishedAtMs: number }[];
    failures: { id: string; analyst: string; kind: string; error: string }[];
    refusals: { queryId: string; partyId: string; reason: string }[];
  };
  settings: Record<string, unknown>;
  metrics: { name: string; help: string; values: { labels: Record<string, string | number>; value: number }[] }[];
}

let me: SignedInAnalyst | undefined;
let federation: string | undefined;

function base64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

const when = (ms: number): string => (ms > 0 ? new Date(ms).toLocaleString() : '—');

function table(id: string, caption: string, head: string[], rows: (string | number)[][]): HTMLTableElement {
  return el('table', { id },
    el('caption', {}, caption),
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...(rows.length ? rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, String(c))))) : [el('tr', {}, el('td', { colspan: head.length }, 'none'))])));
}

async function load(): Promise<void> {
  const status = byId('status');
  if (!me) return;
  try {
    federation ??= (await unaryCall('ListParties', ListPartiesRequest, ListPartiesResponse, {})).federation;
    const ts = String(Date.now());
    const res = await fetch('/operator/status', {
      credentials: 'omit',
      headers: { [READ_METADATA.analyst]: me.id, [READ_METADATA.timestamp]: ts, [READ_METADATA.signature]: base64(signRead(me.identity.secretKey, federation, 'OperatorStatus', me.id, ts, new Uint8Array(0))) },
    });
    const body = (await res.json()) as Status | { code: string; message: string };
    if (!res.ok || 'code' in body) {
      const e = body as { code: string; message: string };
      throw new ConnectCallError(e.code ?? 'unknown', e.message ?? `HTTP ${res.status}`);
    }
    render(body);
    status.classList.remove('error');
    replace(status, `status of federation "${body.federation}" read by ${body.reader} at ${when(body.nowMs)}`);
  } catch (e) {
    status.classList.add('error');
    replace(status, e instanceof ConnectCallError ? `${e.code}: ${e.message}` : (e as Error).message);
  }
}

function render(s: Status): void {
  const r = s.roster;
  const metric = (name: string): string => s.metrics.find((m) => m.name === name)?.values.map((v) => `${Object.values(v.labels).join('/') || 'total'}: ${v.value}`).join(', ') || '0';
  replace(byId('report'),
    el('section', {}, el('h2', {}, 'Parties'),
      el('p', {}, `${r.parties.filter((p) => p.connected).length} of ${r.parties.length} connected; threshold t = ${r.threshold}, collusion bound c = ${r.collusion}; aggregator ${r.aggregator.id} (${r.aggregator.fingerprint}…)${r.operator ? `, operator ${r.operator.id} (${r.operator.fingerprint}…)` : ''}`),
      table('parties-table', 'Roster parties (key fingerprints: the first 16 hex digits)', ['party', 'key', 'state', 'last seen'], r.parties.map((p) => [p.id, `${p.fingerprint}…`, p.connected ? 'connected' : 'not connected', when(p.lastSeenMs)]))),
    el('section', {}, el('h2', {}, 'Analyst roster'),
      table('analysts-table', `Version ${s.analysts.version}`, ['id', 'role', 'key', 'budget ρ', 'spent ρ'], s.analysts.entries.map((a) => [a.id, a.role, `${a.fingerprint}…`, a.budgetRho, a.spentRho.toPrecision(3)]))),
    el('section', {}, el('h2', {}, 'CKKS key ceremony'),
      el('p', { id: 'ceremony' }, `${s.ceremony.status}${s.ceremony.message ? `: ${s.ceremony.message}` : ''}${s.ceremony.publicKeySha256 ? `; collective key SHA-256 ${s.ceremony.publicKeySha256.slice(0, 16)}…, parameters ${s.ceremony.params}` : ''}`)),
    el('section', {}, el('h2', {}, 'Recent queries'),
      table('recent-table', `The last ${s.queries.recent.length} queries (newest first)`, ['query', 'analyst', 'kind', 'backend', 'status', 'submitted'], s.queries.recent.map((q) => [q.id.slice(0, 8), q.analyst, q.kind, q.backend, q.status, when(q.submittedAtMs)])),
      table('failures-table', 'Failures among them', ['query', 'analyst', 'kind', 'error'], s.queries.failures.map((q) => [q.id.slice(0, 8), q.analyst, q.kind, q.error])),
      table('refusals-table', 'Party refusals among them', ['query', 'party', 'reason'], s.queries.refusals.map((q) => [q.queryId.slice(0, 8), q.partyId, q.reason]))),
    el('section', {}, el('h2', {}, 'Metrics'),
      table('metrics-table', 'From the aggregator\'s Prometheus registry (blindsum_queries_total: finished queries by kind/backend/status)', ['metric', 'values'],
        ['blindsum_connected_parties', 'blindsum_queries_running', 'blindsum_queries_total', 'blindsum_budget_spent_rho', 'blindsum_ckks_decryptions'].map((n) => [n, metric(n)]))),
  );
}

const input = byId<HTMLInputElement>('key-file');
input.addEventListener('change', () => {
  const f = input.files?.[0];
  if (!f) return;
  f.text().then((text) => {
    const k = parseIdentityKey(text, f.name);
    me = { id: k.id, identity: k.identity };
    byId<HTMLButtonElement>('refresh').disabled = false;
    return load();
  }).catch((e: unknown) => {
    byId('status').classList.add('error');
    replace(byId('status'), (e as Error).message);
  }).finally(() => {
    input.value = '';
  });
});
byId('refresh').addEventListener('click', () => void load());
