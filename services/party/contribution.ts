/**
 * What a party contributes to a session, whatever the backend: every request from the aggregator
 * is checked against the party's own roster, schema, policy and budget ledger before anything is
 * computed (the aggregator is not trusted to have planned the query, chosen the threshold or
 * picked the participants honestly); then the party computes its exact fixed-point statistics
 * and adds its share of the DP noise, planned by itself.
 */
import { cryptoRandomSource } from '../../crypto/dp/random.ts';
import type { StartSession } from '../../gen/blindsum/v1/blindsum.ts';
import {
  countMatching, DP_GRID_BITS, localStatistics, noiseShare, planNoise, planQuery, validateQuery,
  type NoisePlan, type Plan, type Query,
} from '../../stats/index.ts';
import { queryFromProto } from '../common/query-codec.ts';
import type { PartyConfig } from './config.ts';
import type { PartyLedger } from './ledger.ts';
import { checkAnalystRequest } from './analyst-check.ts';
import type { StatsThread } from './stats-thread.ts';
import type { CkksValueLayout } from '../common/ckks-layout.ts';

export { Refuse } from './refuse.ts';
import { Refuse } from './refuse.ts';

export interface Contribution {
  query: Query;
  plan: Plan;
  /** The party's exact sums plus its DP noise share (when rho > 0), on the plan's grid. */
  sums: bigint[];
  rowsUsed: number;
  /** zCDP ρ to charge to this party's ledger before its noisy contribution leaves (0 = exact). */
  rho: number;
  noise?: NoisePlan;
  parties: string[];
  /** The analyst's zCDP budget in the operator-signed analyst roster (this party enforces it too). */
  analystBudgetRho: number;
}

/** A StartSession that passed every check that needs no data and no plan. */
interface CheckedRequest {
  query: Query;
  rho: number;
  parties: string[];
  analystBudgetRho: number;
}

/** Checks a StartSession for `backend` against the party's roster, policy and ledger (no data read). */
function checkRequest(cfg: PartyConfig, ledger: PartyLedger, req: StartSession, backend: 'secagg' | 'ckks'): CheckedRequest {
  const { roster, schema, policy, identity } = cfg;
  const self = identity.id;
  if (!/^[A-Za-z0-9-]{8,64}$/.test(req.sessionId)) throw new Refuse('malformed session id');
  // The session must be exactly what an analyst on the operator-signed analyst roster signed.
  const { analyst } = checkAnalystRequest(cfg, ledger, req, backend);
  if (!policy.allowedBackends.has(req.backend)) throw new Refuse(`backend "${req.backend}" is not allowed by this party's policy`);
  if (req.backend !== backend) throw new Refuse(`backend "${req.backend}" is not supported by this party`);
  const query = queryFromProto(req.query);
  validateQuery(query, schema);
  if (!policy.allowedKinds.has(query.kind)) throw new Refuse(`query kind "${query.kind}" is not allowed by this party's policy`);
  if (req.threshold !== roster.threshold) throw new Refuse(`threshold ${req.threshold} differs from the roster's t = ${roster.threshold}`);
  if (req.collusion !== roster.collusion) throw new Refuse(`collusion bound c = ${req.collusion} differs from the roster's c = ${roster.collusion}`);
  if (req.ringBits !== 32 && req.ringBits !== 64) throw new Refuse(`ring size 2^${req.ringBits} is not supported`);
  const parties = [...req.parties];
  const sorted = [...parties].sort();
  if (parties.some((p, i) => p !== sorted[i]) || new Set(parties).size !== parties.length) throw new Refuse('participant list is not sorted and unique');
  for (const p of parties) if (!roster.publicKeys.has(p)) throw new Refuse(`participant "${p}" is not on this party's roster`);
  if (!parties.includes(self)) throw new Refuse('this party is not in the participant list');
  if (parties.length < roster.threshold) throw new Refuse(`only ${parties.length} participants; the threshold is ${roster.threshold}`);
  const rho = req.rho;
  if (!(rho >= 0) || !Number.isFinite(rho)) throw new Refuse('malformed privacy cost');
  if (rho === 0 && !policy.allowExact) throw new Refuse("this party answers only differentially private queries (policy allowExact is false)");
  if (rho > policy.maxRhoPerQuery) throw new Refuse(`query rho = ${rho} exceeds this party's per-query maximum ${policy.maxRhoPerQuery} (policy maxRhoPerQuery)`);
  if (rho > 0) {
    const why = ledger.check(rho, analyst);
    if (why) throw new Refuse(why);
  }
  return { query, rho, parties, analystBudgetRho: analyst.budgetRho };
}

const PLAN_MISMATCH = 'fixed-point plan mismatch: the aggregator planned this query differently';

/**
 * Every check above depends on the query and the policy only. From here on the party commits to
 * answering: the session id is recorded durably first, and a repeated id is refused.
 */
function claim(ledger: PartyLedger, req: StartSession, backend: 'secagg' | 'ckks'): void {
  if (!ledger.claimSession(req.sessionId, backend)) throw new Refuse(`session id ${req.sessionId} was already answered by this party (a session id is used once)`);
}

/**
 * Exact answers only (policy allowExact): a refusal that reveals that few local records match.
 * Under DP this check would leak an exact count for free, so DP queries are always answered with
 * noise and small cohorts are flagged from the released noisy count (stats/plan.ts flagSmallCohort).
 */
function checkCohort(cfg: PartyConfig, rho: number, cohort: number): void {
  if (rho === 0 && cohort < cfg.policy.minCohort) throw new Refuse(`fewer than ${cfg.policy.minCohort} local records match this query (policy minCohort; exact queries only)`);
}

/** Checks a StartSession for `backend` and computes this party's noisy statistics (on this thread). */
export function prepareContribution(cfg: PartyConfig, ledger: PartyLedger, req: StartSession, backend: 'secagg' | 'ckks'): Contribution {
  const { roster, schema, dataset } = cfg;
  const { query, rho, parties, analystBudgetRho } = checkRequest(cfg, ledger, req, backend);
  const n = roster.parties.length;
  const ringBits = req.ringBits as 32 | 64;
  const plan = planQuery(query, schema, rho > 0 ? { parties: n, ringBits, dpGridBits: DP_GRID_BITS } : { parties: n, ringBits });
  if (plan.digest !== req.planDigest) throw new Refuse(PLAN_MISMATCH);
  claim(ledger, req, backend);
  const { sums, rowsUsed } = localStatistics(query, schema, plan, dataset);
  if (rho === 0) checkCohort(cfg, rho, Math.min(countMatching(dataset, query.filter), rowsUsed));
  let noise: NoisePlan | undefined;
  if (rho > 0) {
    // This party's share of the distributed Skellam noise, planned by the party itself for t − c
    // honest contributors.
    noise = planNoise(query, schema, plan, { rho, parties: n, threshold: roster.threshold, collusion: roster.collusion });
    const share = noiseShare(noise, cryptoRandomSource());
    for (let i = 0; i < sums.length; i++) sums[i]! += share[i]!;
  }
  return { query, plan, sums, rowsUsed, rho, parties, analystBudgetRho, ...(noise ? { noise } : {}) };
}

/** What prepareContributionOffThread gives: the noisy sums as signed 64-bit integers (ring-ready). */
export interface ThreadContribution {
  query: Query;
  sums: BigInt64Array;
  vectorLength: number;
  rowsUsed: number;
  rho: number;
  parties: string[];
  analystBudgetRho: number;
}

/**
 * prepareContribution with the O(entries) work (planning, the sums, the noise share) on the party's
 * statistics thread: the same checks in the same order (plan digest before the durable claim of
 * the session id, the sums only after it).
 */
export async function prepareContributionOffThread(cfg: PartyConfig, ledger: PartyLedger, req: StartSession, backend: 'secagg' | 'ckks', thread: StatsThread): Promise<ThreadContribution> {
  const { checked, vectorLength, out } = await offThread(cfg, ledger, req, backend, thread, (id, opts) => thread.contribute(id, opts), (o) => o.sums.fill(0n));
  return { ...checked, sums: out.sums, vectorLength, rowsUsed: out.rowsUsed };
}

/** What prepareCkksContributionOffThread gives: the CKKS values to encrypt and their layout (no level yet). */
export interface CkksThreadContribution {
  query: Query;
  /** The noisy sums as CKKS values (ckksValueLayout's form), transferred from the statistics thread. */
  values: Float64Array;
  layout: CkksValueLayout;
  rowsUsed: number;
  rho: number;
  parties: string[];
  analystBudgetRho: number;
}

/**
 * The CKKS party's prepareContribution + ckksValueLayout + toCkksValues, on the statistics thread
 * (which never loads node-seal: the caller picks the ciphertext level from layout.maxAbsSum), with
 * the same checks in the same order as prepareContributionOffThread.
 */
export async function prepareCkksContributionOffThread(cfg: PartyConfig, ledger: PartyLedger, req: StartSession, thread: StatsThread): Promise<CkksThreadContribution> {
  const { checked, out } = await offThread(cfg, ledger, req, 'ckks', thread, (id, opts) => thread.contributeCkks(id, opts), (o) => o.values.fill(0));
  return { ...checked, values: out.values, layout: out.layout, rowsUsed: out.rowsUsed };
}

type ContributeOptions = { rho: number; parties: number; threshold: number; collusion: number };

/**
 * checkRequest; the plan on the thread; its digest compared with the aggregator's; the session id
 * claimed durably; then `contribute` on the thread; the cohort checked (`wipe` clears a refused result).
 */
async function offThread<T extends { rowsUsed: number; cohort: number }>(
  cfg: PartyConfig, ledger: PartyLedger, req: StartSession, backend: 'secagg' | 'ckks', thread: StatsThread,
  contribute: (sessionId: string, opts: ContributeOptions) => Promise<T>, wipe: (out: T) => void,
): Promise<{ checked: CheckedRequest; vectorLength: number; out: T }> {
  const { roster } = cfg;
  const checked = checkRequest(cfg, ledger, req, backend);
  const n = roster.parties.length;
  const { digest, vectorLength } = await thread.plan(req.sessionId, checked.query, { parties: n, ringBits: req.ringBits as 32 | 64, rho: checked.rho });
  if (digest !== req.planDigest) {
    thread.forget(req.sessionId);
    throw new Refuse(PLAN_MISMATCH);
  }
  try {
    claim(ledger, req, backend);
  } catch (e) {
    thread.forget(req.sessionId);
    throw e;
  }
  const out = await contribute(req.sessionId, { rho: checked.rho, parties: n, threshold: roster.threshold, collusion: roster.collusion });
  try {
    checkCohort(cfg, checked.rho, out.cohort);
  } catch (e) {
    wipe(out);
    throw e;
  }
  return { checked, vectorLength, out };
}
