/**
 * Three-way fidelity: the total-variation distance of the joint distribution of three columns on
 * the evaluation bins (the same bins as the one- and two-way TVDs: categories, deciles of the real
 * values, "(missing)"), averaged over column triples. The marginal-workload error that AIM and the
 * NIST synthetic-data challenges report for 3-way marginals (McKenna et al., VLDB 2022), as a TVD.
 * SDMetrics and synthcity have no three-column metric; by their naming it is 1 − a three-column
 * ContingencySimilarity.
 *
 * All triples are used when there are at most `maxTriples`; otherwise a fixed seeded sample of
 * that many (the same for every synthetic dataset of a report, since it depends only on the number
 * of columns and the seed).
 */
import { sha256 } from '../../crypto/sha256.ts';
import { seededRandomSource, uniformInt } from '../../crypto/dp/random.ts';
import { utf8 } from '../../crypto/bytes.ts';
import type { Binner } from './encode.ts';
import { tvd } from './metrics.ts';

/** Most triples evaluated (C(19, 3) = 969 for pbc is below it: every triple). */
export const MAX_TRIPLES = 1000;

/** Every triple i < j < k of d columns, or a seeded sample of `max` of them (sorted). */
export function evaluationTriples(d: number, max = MAX_TRIPLES, seed = 'triples'): [number, number, number][] {
  const all: [number, number, number][] = [];
  for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) for (let k = j + 1; k < d; k++) all.push([i, j, k]);
  if (all.length <= max) return all;
  // partial Fisher–Yates: the first `max` of a seeded permutation, then back in lexicographic order
  const rng = seededRandomSource(sha256(utf8(`blindsum/synth/eval/triples/v1|${seed}|${d}`)));
  const idx = all.map((_, i) => i);
  for (let i = 0; i < max; i++) {
    const j = i + uniformInt(idx.length - i, rng);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx.slice(0, max).sort((a, b) => a - b).map((i) => all[i]!);
}

/** Counts of the joint evaluation bins of columns t (row-major). */
export function tripleCounts(bins: Int32Array[], binners: Binner[], t: readonly [number, number, number]): Float64Array {
  const [a, b, c] = t;
  const sb = binners[b]!.size;
  const sc = binners[c]!.size;
  const out = new Float64Array(binners[a]!.size * sb * sc);
  const [xa, xb, xc] = [bins[a]!, bins[b]!, bins[c]!];
  for (let r = 0; r < xa.length; r++) out[(xa[r]! * sb + xb[r]!) * sc + xc[r]!]++;
  return out;
}

/** TVD of each triple's joint table, real against synthetic (real tables precomputed once per report). */
export function tripleTvds(realTables: Float64Array[], synthBins: Int32Array[], binners: Binner[], triples: readonly [number, number, number][]): number[] {
  return triples.map((t, k) => tvd(realTables[k]!, tripleCounts(synthBins, binners, t)));
}
