/**
 * The synthesizer's measurements through a federation: each marginal query goes to the
 * aggregator like any analyst query (budget charged at the aggregator and at every party, noise
 * added by each party, secure aggregation), and its released counts and noise scale come back.
 */
import type { QueryEvent } from '../gen/blindsum/v1/blindsum.ts';
import type { Measure } from '../stats/synth/marginals.ts';
import type { AnalystClient } from './analyst.ts';
import type { AnalystCkksKey } from './ckks-analyst.ts';

export interface FederatedMeasureOptions {
  /** "secagg" (default) or "ckks" (then `ckksKey`, the analyst's key that results are switched to). */
  backend?: string;
  ckksKey?: AnalystCkksKey;
  deadlineMs?: number;
  onEvent?: (purpose: string, ev: QueryEvent) => void;
}

export class MeasurementError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MeasurementError';
  }
}

export function federatedMeasure(client: AnalystClient, opts: FederatedMeasureOptions = {}): Measure {
  return async (q, rho, purpose) => {
    const o = await client.run(q, {
      ...(rho === undefined ? {} : { privacy: { rho } }),
      ...(opts.backend ? { backend: opts.backend } : {}),
      ...(opts.ckksKey ? { ckksKey: opts.ckksKey } : {}),
      ...(opts.deadlineMs ? { deadlineMs: opts.deadlineMs } : {}),
      onEvent: (ev) => opts.onEvent?.(purpose, ev),
    });
    if (o.status !== 'done' || o.result?.kind !== 'marginal') {
      throw new MeasurementError(`the ${purpose} measurement (query ${o.queryId}) did not complete: ${o.status}${o.error ? ` — ${o.error}` : ''}${o.refusals.length ? `; refused by ${o.refusals.map((r) => `${r.partyId} (${r.reason})`).join('; ')}` : ''}`);
    }
    const sd = o.noiseStd.length > 0 ? o.noiseStd[0]! : 0;
    if (rho !== undefined && !(sd > 0)) throw new MeasurementError(`the ${purpose} measurement (query ${o.queryId}) came back without a noise scale`);
    return {
      tables: o.result.tables.map((t) => t.counts), variance: sd * sd, queryId: o.queryId,
      rhoCharged: o.rhoCharged, rhoSpent: o.rhoSpent, contributors: [...o.contributors],
    };
  };
}
