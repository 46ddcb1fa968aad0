/**
 * A party's local disclosure-control policy (DataSHIELD-style), enforced by the party itself
 * whatever the aggregator says: which query kinds and backends it answers, and the minimum
 * number of its own records that must match a query's filter.
 */
import { readFileSync } from 'node:fs';
import { QUERY_KINDS, type QueryKind } from '../../stats/index.ts';
import { ConfigError } from '../common/roster.ts';

export interface PartyPolicy {
  readonly allowedKinds: ReadonlySet<QueryKind>;
  readonly allowedBackends: ReadonlySet<string>;
  /**
   * Exact queries only: refuse when fewer local records than this match the filter (and are used).
   * Such a refusal reveals a local count, so under differential privacy the party always answers
   * with noise and small cohorts are flagged from the released noisy count instead.
   */
  readonly minCohort: number;
  /** Answer queries without differential privacy (default false: every answer carries DP noise). */
  readonly allowExact: boolean;
  /** This party's total zCDP budget over all analysts. */
  readonly budgetRho: number;
  /** Largest zCDP ρ of a single query. */
  readonly maxRhoPerQuery: number;
}

export const DEFAULT_POLICY: PartyPolicy = {
  allowedKinds: new Set(QUERY_KINDS), allowedBackends: new Set(['secagg']), minCohort: 5, allowExact: false, budgetRho: 1, maxRhoPerQuery: 1,
};

export function parsePolicy(json: unknown, source = 'policy'): PartyPolicy {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(`${source}: expected a JSON object`);
  const o = json as Record<string, unknown>;
  const known = new Set(['allowedKinds', 'allowedBackends', 'minCohort', 'allowExact', 'budgetRho', 'maxRhoPerQuery', 'description']);
  for (const k of Object.keys(o)) if (!known.has(k)) throw new ConfigError(`${source}: unknown field "${k}" (allowed: ${[...known].join(', ')})`);
  let allowedKinds = DEFAULT_POLICY.allowedKinds;
  if (o['allowedKinds'] !== undefined) {
    const list = o['allowedKinds'];
    if (!Array.isArray(list)) throw new ConfigError(`${source}: allowedKinds must be a list of query kinds`);
    for (const k of list) {
      if (!(QUERY_KINDS as readonly unknown[]).includes(k)) throw new ConfigError(`${source}: allowedKinds: unknown kind ${JSON.stringify(k)} (known: ${QUERY_KINDS.join(', ')})`);
    }
    allowedKinds = new Set(list as QueryKind[]);
  }
  let allowedBackends = DEFAULT_POLICY.allowedBackends;
  if (o['allowedBackends'] !== undefined) {
    const list = o['allowedBackends'];
    if (!Array.isArray(list) || list.some((b) => b !== 'secagg' && b !== 'ckks')) throw new ConfigError(`${source}: allowedBackends must be a list of "secagg" / "ckks"`);
    allowedBackends = new Set(list as string[]);
  }
  let minCohort = DEFAULT_POLICY.minCohort;
  if (o['minCohort'] !== undefined) {
    const m = o['minCohort'];
    if (typeof m !== 'number' || !Number.isInteger(m) || m < 0) throw new ConfigError(`${source}: minCohort must be a non-negative integer`);
    minCohort = m;
  }
  const allowExact = o['allowExact'] ?? DEFAULT_POLICY.allowExact;
  if (typeof allowExact !== 'boolean') throw new ConfigError(`${source}: allowExact must be true or false`);
  const positive = (k: string, d: number): number => {
    const x = o[k] ?? d;
    if (typeof x !== 'number' || !(x > 0) || !Number.isFinite(x)) throw new ConfigError(`${source}: ${k} must be a positive number (zCDP rho)`);
    return x;
  };
  return { allowedKinds, allowedBackends, minCohort, allowExact, budgetRho: positive('budgetRho', DEFAULT_POLICY.budgetRho), maxRhoPerQuery: positive('maxRhoPerQuery', DEFAULT_POLICY.maxRhoPerQuery) };
}

export function loadPolicy(path: string | undefined): PartyPolicy {
  if (path === undefined) return DEFAULT_POLICY;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError(`cannot read policy file ${path}: ${(e as Error).message}`);
  }
  return parsePolicy(json, `policy ${path}`);
}
