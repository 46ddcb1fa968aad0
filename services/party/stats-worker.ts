/**
 * A party's statistics thread (worker_threads entry; see stats-thread.ts): plans a query, then
 * computes the party's exact fixed-point sums plus its DP noise share, off the node's event loop;
 * for a CKKS session, the CKKS values it encrypts (services/common/ckks-layout.ts: no SEAL here).
 * It holds its own copy of the party's dataset (cloned once at start) and nothing else: the checks
 * against roster, policy and ledger stay on the main thread, which asks for a plan first, checks its
 * digest and claims the session id durably, and only then asks for the sums.
 */
import { workerData } from 'node:worker_threads';
import { cryptoRandomSource } from '../../crypto/dp/random.ts';
import { countMatching, DP_GRID_BITS, localStatisticsInt64, noiseShare, planNoise, planQuery, type Dataset, type Plan, type Query } from '../../stats/index.ts';
import { ckksValueLayout, toCkksValues } from '../common/ckks-layout.ts';
import { serveRequests } from '../common/worker-thread.ts';
import type { StatsRequest, StatsResponse } from './stats-thread.ts';

const dataset = (workerData as { dataset: Dataset }).dataset;
const schema = dataset.schema;
/** Plans between the 'plan' and 'contribute' requests of a session (a few at a time). */
const plans = new Map<string, { query: Query; plan: Plan }>();
const MAX_PLANS = 64;

function answer(req: StatsRequest): StatsResponse {
  switch (req.op) {
    case 'plan': {
      const plan = planQuery(req.query, schema, req.rho > 0 ? { parties: req.parties, ringBits: req.ringBits, dpGridBits: DP_GRID_BITS } : { parties: req.parties, ringBits: req.ringBits });
      if (plans.size >= MAX_PLANS) plans.delete(plans.keys().next().value!);
      plans.set(req.sessionId, { query: req.query, plan });
      return { digest: plan.digest, vectorLength: plan.entries.length };
    }
    case 'contribute':
    case 'contributeCkks': {
      const held = plans.get(req.sessionId);
      plans.delete(req.sessionId);
      if (!held) throw new Error(`no plan for session ${req.sessionId.slice(0, 64)} in the statistics thread`);
      const { query, plan } = held;
      const { sums: out, rowsUsed } = localStatisticsInt64(query, schema, plan, dataset);
      const cohort = req.rho === 0 ? Math.min(countMatching(dataset, query.filter), rowsUsed) : rowsUsed;
      // This party's share of the distributed Skellam noise, planned by the party for t − c honest
      // contributors.
      const noise = req.rho > 0 ? planNoise(query, schema, plan, { rho: req.rho, parties: req.parties, threshold: req.threshold, collusion: req.collusion }) : undefined;
      const share = noise ? noiseShare(noise, cryptoRandomSource()) : undefined;
      if (req.op === 'contributeCkks') {
        // The CKKS values: exact sums plus the share (BigInt, no wrap), as ckks-sessions.ts encrypts them.
        const layout = ckksValueLayout(plan, schema, noise);
        try {
          return { values: toCkksValues(layout, out, share), layout, rowsUsed, cohort };
        } finally {
          out.fill(0n);
          share?.fill(0n);
        }
      }
      // Secure aggregation: the share added modulo 2^64, as the ring does.
      if (share) for (let i = 0; i < out.length; i++) out[i] = out[i]! + share[i]!;
      return { sums: out, rowsUsed, cohort };
    }
    case 'forget':
      plans.delete(req.sessionId);
      return {};
  }
}

// The vectors go by transfer (their buffers move to the main thread), never by structured clone.
serveRequests<StatsRequest, StatsResponse>(answer, (res) => ('sums' in res ? [res.sums.buffer as ArrayBuffer] : 'values' in res ? [res.values.buffer as ArrayBuffer] : []));
