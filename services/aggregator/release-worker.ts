/**
 * The aggregator's release thread (worker_threads entry; see release-thread.ts): plans
 * secure-aggregation queries, computes their releases and encodes GetResult's answers, off the
 * aggregator's event loop, with the same functions, in the same order, as the event loop did.
 * It holds the schema, a read-only connection to the database for GetResult and a write
 * connection for a released query's row (finish); it keeps no plan between requests.
 */
import { DatabaseSync } from 'node:sqlite';
import { workerData } from 'node:worker_threads';
import { ringDecode } from '../../crypto/ring.ts';
import { GetResultResponse } from '../../gen/blindsum/v1/blindsum.ts';
import {
  checkReleasedSums, DP_GRID_BITS, finalizeReleased, flagSmallCohort, noiseStd, noiseUncertainty, noiseVerdict, planNoise, planQuery, resultEntryNames, spentRho,
  type NoisePlan, type Plan, type Query, type Schema,
} from '../../stats/index.ts';
import { jsonBody, type ReleasedRecord } from '../common/transcript-records.ts';
import { publicMessage } from '../common/errors.ts';
import { serveRequests } from '../common/worker-thread.ts';
import { ckksValueLayout } from '../common/ckks-layout.ts';
import type { CkksReleaseFigures, PlanArgs, Planned, Release, ReleaseRequest } from './release-thread.ts';
import { resultResponse } from './result-response.ts';
import { readQuery, writeFinish } from './store.ts';

const { schema, dbPath } = workerData as { schema: Schema; dbPath: string };
interface Held {
  query: Query;
  plan: Plan;
  noise: NoisePlan | undefined;
  planMs: number;
}
let db: DatabaseSync | undefined;
let writer: DatabaseSync | undefined;

function makePlan(a: PlanArgs): Held {
  const t0 = performance.now();
  const plan = planQuery(a.query, schema, a.rho === 0 ? { parties: a.parties, ringBits: a.ringBits } : { parties: a.parties, ringBits: a.ringBits, dpGridBits: DP_GRID_BITS });
  const noise = a.rho === 0 ? undefined : planNoise(a.query, schema, plan, { rho: a.rho, parties: a.parties, threshold: a.threshold, collusion: a.collusion });
  return { query: a.query, plan, noise, planMs: performance.now() - t0 };
}

function release(req: Extract<ReleaseRequest, { op: 'release' }>): Release {
  const { query, plan, noise } = makePlan(req.args);
  if (plan.digest !== req.digest) throw new Error('the release thread planned another digest than the submitted plan');
  const sums = ringDecode(req.sum, plan.ringBits);
  const k = req.contributors.length;
  // A sum outside the plan's range (a party sent out-of-range masked values) is never released:
  // the ReleaseCheckError goes back by name.
  checkReleasedSums(plan, schema, sums, k, noise);
  // Under DP the post-processing learns the released noise per entry (kaplan_meier's intervals hold it).
  const std = noise ? noiseStd(noise, plan, k) : undefined;
  const { result, postError } = finalizeReleased(query, schema, plan, sums, noise !== undefined, publicMessage, std);
  if (result && noise) flagSmallCohort(result, req.minCohort);
  const uncertainty = noise && result ? noiseUncertainty(query, schema, plan, noise, sums, k) : undefined;
  // Whether the noise leaves the result useful, from the noise plan and the release (post-processing).
  const verdict = noise ? noiseVerdict(query, schema, plan, noise, sums, k, result, uncertainty ?? {}) : undefined;
  const dp = noise
    ? {
        rhoSpent: spentRho(noise, k),
        noiseStd: JSON.stringify(std),
        uncertaintyJson: uncertainty ? JSON.stringify(uncertainty) : '',
        noiseJson: verdict ? JSON.stringify(verdict) : '',
      }
    : undefined;
  const resultJson = result ? JSON.stringify(result) : '';
  const exactSums = sums.map(String);
  const entryNames = resultEntryNames(plan);
  const released: ReleasedRecord = { queryId: req.queryId, contributors: req.contributors, exactSums, scaleBits: plan.scaleBits, entryNames, resultJson };
  return {
    resultJson, postError, releasedBody: jsonBody(released),
    json: { exactSums: JSON.stringify(exactSums), scaleBits: JSON.stringify(plan.scaleBits), entryNames: JSON.stringify(entryNames), ...(dp ? { noiseStd: dp.noiseStd } : {}) },
    ...(dp ? { rhoSpent: dp.rhoSpent, uncertaintyJson: dp.uncertaintyJson, noiseJson: dp.noiseJson } : {}),
  };
}

/** A CKKS release's plan figures: the sums stay encrypted, so nothing here reads data. */
function ckksRelease(req: Extract<ReleaseRequest, { op: 'ckksRelease' }>): CkksReleaseFigures {
  const { plan, noise } = makePlan(req.args);
  if (plan.digest !== req.digest) throw new Error('the release thread planned another digest than the submitted plan');
  const k = req.contributors.length;
  const entryNames = resultEntryNames(plan);
  const released: ReleasedRecord = { queryId: req.queryId, contributors: req.contributors, exactSums: [], scaleBits: plan.scaleBits, entryNames, resultJson: '' };
  return { releasedBody: jsonBody(released), entryNames, scaleBits: plan.scaleBits, ...(noise ? { rhoSpent: spentRho(noise, k), noiseStd: noiseStd(noise, plan, k) } : {}) };
}

function answer(req: ReleaseRequest): Planned | Release | CkksReleaseFigures | Uint8Array | undefined {
  switch (req.op) {
    case 'plan': {
      const held = makePlan(req.args);
      const planned: Planned = { digest: held.plan.digest, vectorLength: held.plan.entries.length, ringBits: held.plan.ringBits, planMs: held.planMs };
      return req.ckks ? { ...planned, ckks: ckksValueLayout(held.plan, schema, held.noise) } : planned;
    }
    case 'ckksRelease':
      return ckksRelease(req);
    case 'release':
      return release(req);
    case 'finish':
      if (!writer) {
        writer = new DatabaseSync(dbPath);
        writer.exec('PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
      }
      writeFinish(writer, req.queryId, req.record);
      return undefined;
    case 'getResult': {
      if (!db) {
        db = new DatabaseSync(dbPath, { readOnly: true });
        db.exec('PRAGMA busy_timeout = 5000;');
      }
      const q = readQuery(db, req.queryId);
      return q ? GetResultResponse.encode(resultResponse(q, undefined)).finish() : undefined;
    }
  }
}

serveRequests<ReleaseRequest, Planned | Release | CkksReleaseFigures | Uint8Array | undefined>(answer, (res) => {
  if (res instanceof Uint8Array) return [res.buffer as ArrayBuffer];
  if (res && 'releasedBody' in res) return [res.releasedBody.buffer as ArrayBuffer];
  return [];
});
