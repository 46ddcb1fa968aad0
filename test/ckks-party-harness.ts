/**
 * A real CKKS party (services/party/ckks-sessions.ts CkksParty, its own durable ledger) of an
 * in-process federation whose key ceremony has run (test/ckks-inprocess.ts), driven directly with
 * StartSessions an honest aggregator would send, and the event-loop measurement of
 * test/party-stats-thread.test.ts for one CKKS StartSession.
 */
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
import { measureLoopBlocking, type LoopBlocking } from './loop-blocking.ts';

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
 * How long this thread's event loop is blocked (test/loop-blocking.ts: CPU time between two turns
 * of the loop, not wall-clock pauses, which a loaded machine lengthens by chance) while `p` answers
 * each of up to three StartSessions for `query` (fresh session ids), stopping at the first run
 * under `limitMs`: code that blocks the loop does so on every run, a major GC only now and then.
 */
export async function startBlocking(p: CkksPartyUnderTest, analysts: TestAnalysts, keySha: string, query: Query, limitMs: number): Promise<{ runs: LoopBlocking<unknown>[]; replies: (Reply | undefined)[] }> {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const runs: LoopBlocking<unknown>[] = [];
  const replies: (Reply | undefined)[] = [];
  for (let run = 0; run < 3 && !(runs.length > 0 && Math.min(...runs.map((r) => r.blockedCpuMs)) < limitMs); run++) {
    const start = ckksStartSession(analysts, p.cfg, keySha, crypto.randomUUID(), query); // the aggregator's planning, not the party's
    gc(); // that planning's garbage lives on this thread: collect it before measuring
    const m = await measureLoopBlocking(() => p.handle({ $case: 'startSession', value: start }));
    replies.push(m.value);
    runs.push(m);
  }
  return { runs, replies };
}
