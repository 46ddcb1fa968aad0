/**
 * A real CKKS party (services/party/ckks-sessions.ts CkksParty, its own durable ledger) of an
 * in-process federation whose key ceremony has run (test/ckks-inprocess.ts), driven directly with
 * StartSessions an honest aggregator would send, and the event-loop measurement of
 * test/party-stats-thread.test.ts for one CKKS StartSession.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { StartSession, type AggregatorMessage } from '../gen/blindsum/v1/blindsum.ts';
import { queryToProto } from '../services/common/query-codec.ts';
import type { Logger } from '../services/common/errors.ts';
import { CkksParty } from '../services/party/ckks-sessions.ts';
import type { PartyConfig } from '../services/party/config.ts';
import { PartyLedger } from '../services/party/ledger.ts';
import type { Reply } from '../services/party/sessions.ts';
import { DP_GRID_BITS, planQuery, type Query } from '../stats/index.ts';
import { authorize, type TestAnalysts } from './analyst-harness.ts';

const quiet: Logger = () => {};

/** The analyst key digest the sessions name (no PCKS runs in these tests). */
export const ANALYST_KEY_SHA = 'ab'.repeat(32);

/** The CKKS StartSession an honest aggregator sends for the analyst's signed `query` (plan recomputed as the aggregator does). */
export function ckksStartSession(analysts: TestAnalysts, cfg: PartyConfig, collectiveKeySha: string, sessionId: string, query: Query, opts: { rho?: number; planDigest?: string } = {}): StartSession {
  const rho = opts.rho ?? 0;
  const n = cfg.roster.parties.length;
  const plan = planQuery(query, cfg.schema, rho > 0 ? { parties: n, ringBits: 64, dpGridBits: DP_GRID_BITS } : { parties: n, ringBits: 64 });
  return StartSession.fromPartial({
    sessionId, query: queryToProto(query), backend: 'ckks', threshold: cfg.roster.threshold, collusion: cfg.roster.collusion, ringBits: 64,
    parties: cfg.roster.parties.map((p) => p.id), planDigest: opts.planDigest ?? plan.digest, rho, ckksKeySha256: collectiveKeySha, analystKeySha256: ANALYST_KEY_SHA,
    ...authorize(analysts, { sessionId, query, backend: 'ckks', rho, analystKeySha256: ANALYST_KEY_SHA }),
  });
}

/** A CKKS party with its own ledger on the party's state directory (it loads the key share stored there). */
export class CkksPartyUnderTest {
  readonly cfg: PartyConfig;
  readonly ledger: PartyLedger;
  readonly party: CkksParty;
  constructor(cfg: PartyConfig) {
    this.cfg = cfg;
    this.ledger = new PartyLedger(cfg.stateDir, cfg.policy.budgetRho);
    this.party = new CkksParty(cfg, quiet, this.ledger);
  }
  async handle(body: NonNullable<AggregatorMessage['body']>): Promise<Reply | undefined> {
    return (await this.party.handle(body)).reply;
  }
  #closed = false;
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.party.close();
    this.ledger.close();
  }
}

/**
 * The longest pause (ms) of this thread's event loop while `p` answers each of up to three
 * StartSessions for `query` (fresh session ids), stopping at the first run under `limitMs`: code
 * that blocks the loop does so on every run, a busy machine's scheduler only now and then.
 */
export async function startPauses(p: CkksPartyUnderTest, analysts: TestAnalysts, keySha: string, query: Query, limitMs: number): Promise<{ maxima: number[]; replies: (Reply | undefined)[] }> {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const maxima: number[] = [];
  const replies: (Reply | undefined)[] = [];
  for (let run = 0; run < 3 && !(maxima.length > 0 && Math.min(...maxima) < limitMs); run++) {
    const start = ckksStartSession(analysts, p.cfg, keySha, crypto.randomUUID(), query); // the aggregator's planning, not the party's
    gc(); // that planning's garbage lives on this thread: collect it before measuring
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    // The histogram records the gap between two of its timer's ticks: a pause before its first tick
    // would go unseen, so let it tick before the StartSession arrives.
    await sleep(50);
    const r = await p.handle({ $case: 'startSession', value: start });
    h.disable();
    replies.push(r);
    maxima.push(h.max / 1e6);
  }
  return { maxima, replies };
}
