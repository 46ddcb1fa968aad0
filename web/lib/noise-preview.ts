/**
 * The DP cost and the expected noise of a query before it is submitted, computed in the browser
 * with the library the aggregator and parties use (stats/plan.ts planQuery, stats/privacy.ts
 * planNoise, noiseStd): the zCDP ρ charged and the noise standard deviation of each released
 * entry when all n parties contribute and when only t do (each contributor adds its share, sized
 * so that any t − c honest ones carry the whole noise: more contributors, a little more noise).
 */
import { planQuery, resultEntryNames } from '../../stats/plan.ts';
import { DP_GRID_BITS, noiseStd, planNoise, privacyRho, type PrivacySpec } from '../../stats/privacy.ts';
import type { Query } from '../../stats/query-types.ts';
import type { Schema } from '../../stats/schema.ts';

export interface NoisePreview {
  rho: number;
  entries: { name: string; sdAll: number; sdThreshold: number }[];
  entryCount: number;
}

export interface FederationShape {
  parties: number;
  threshold: number;
  collusion: number;
}

/** Throws the library's QueryError (a sentence for the user) for an invalid query or privacy. */
export function previewNoise(q: Query, schema: Schema, privacy: PrivacySpec, fed: FederationShape, maxEntries = 12): NoisePreview {
  const rho = privacyRho(privacy);
  // The aggregator's default ring (64 bits); DP plans place entries on the DP grid whatever the ring.
  const plan = planQuery(q, schema, { parties: fed.parties, ringBits: 64, dpGridBits: DP_GRID_BITS });
  const np = planNoise(q, schema, plan, { rho, parties: fed.parties, threshold: fed.threshold, collusion: fed.collusion });
  const all = noiseStd(np, plan, fed.parties);
  const atT = noiseStd(np, plan, fed.threshold);
  const names = resultEntryNames(plan);
  return {
    rho, entryCount: all.length,
    entries: all.slice(0, maxEntries).map((sd, i) => ({ name: names[i] ?? `entry ${i}`, sdAll: sd, sdThreshold: atT[i]! })),
  };
}
