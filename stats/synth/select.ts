/**
 * Which attributes the model joins: a Bayesian network in which every node has at most
 * `maxParents` parents, all inside one earlier family, so that the families are the cliques of a
 * junction tree (junction.ts). With `maxParents = 1` this is MST's maximum spanning tree (McKenna,
 * Miklau, Sheldon, "Winning the NIST Contest", JPC 2021); with 2 it is a 2-tree, the structure
 * PrivBayes (Zhang et al., SIGMOD 2014 / TODS 2017) builds with degree k = 2, grown greedily here
 * from pair scores.
 *
 * Pair scores come from released noisy measurements (pairScore below): choosing from them is
 * post-processing. Greedy growth: start from the best pair; then repeatedly attach the unplaced
 * node and parent set with the highest summed pair score, where a parent set is one placed node,
 * or two nodes of one family (a second parent only when its own score is positive). Ties break by index, so the result is deterministic.
 * With a `target` (the outcome a user will model), the target is placed first and is a parent of
 * every other column: a tree-augmented naive Bayes (Friedman, Geiger, Goldszmidt, Machine Learning
 * 1997), so every target × feature pair is measured and fitted.
 *
 * Pair score (`pairScore`): s_ij = Σ_cells ((y − x̂)² − Var), where y is a noisy measurement of the
 * pair table and x̂ the product of its noisy one-ways: an unbiased estimate of ‖x_ij − x̂_ij‖₂², how
 * badly independence explains the pair (MST scores the same distance in L1 on exact data, which
 * no linear protocol can compute; E(y − x̂)² = (x − x̂)² + Var).
 */
import type { GroupedTable } from './marginals.ts';

/** Bias-corrected squared-L2 distance of a measured pair table from the product of its one-ways. */
export function pairScore(t: GroupedTable, oneWay: [Float64Array, Float64Array], total: number): number {
  const [a, b] = oneWay;
  const [ka, kb] = t.shape as [number, number];
  let s = 0;
  for (let i = 0; i < ka; i++) {
    for (let j = 0; j < kb; j++) {
      const c = i * kb + j;
      const d = t.counts[c]! - total * a[i]! * b[j]!;
      s += d * d - t.variance[c]!;
    }
  }
  return s;
}

/** All pairs (i < j) of d attributes, in lexicographic order. */
export function allPairs(d: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) out.push([i, j]);
  return out;
}


export interface NetworkOptions {
  maxParents?: 1 | 2;
  /** Column placed first and made a parent of every other column (tree-augmented naive Bayes). */
  target?: number;
}

export interface Network {
  order: number[];
  parents: number[][];
}

/** Grows the network from a symmetric pair-score matrix (score[a][b], a ≠ b). */
export function selectNetwork(score: number[][], opts: NetworkOptions = {}): Network {
  const d = score.length;
  const maxParents = opts.maxParents ?? 2;
  const parents: number[][] = Array.from({ length: d }, () => []);
  if (d === 0) return { order: [], parents };
  const placed: number[] = [];
  const isPlaced = new Array<boolean>(d).fill(false);
  const families: number[][] = [];
  const place = (v: number, pa: number[]): void => {
    parents[v] = pa;
    placed.push(v);
    isPlaced[v] = true;
    families.push([...pa, v]);
  };
  const target = opts.target;
  if (target !== undefined && !(Number.isInteger(target) && target >= 0 && target < d)) throw new RangeError(`target: expected a column index below ${d}, got ${target}`);
  // the first node: the target, or the first of the best pair
  let first = 0;
  let bestPair = -Infinity;
  for (let a = 0; a < d; a++) for (let b = a + 1; b < d; b++) if (score[a]![b]! > bestPair) [bestPair, first] = [score[a]![b]!, a];
  place(target ?? first, []);
  while (placed.length < d) {
    let pick: { v: number; pa: number[]; s: number } | null = null;
    for (let v = 0; v < d; v++) {
      if (isPlaced[v]) continue;
      if (target !== undefined) {
        // tree-augmented naive Bayes: the target, and at most one other placed column
        const s0 = score[v]![target]!;
        if (pick === null || s0 > pick.s) pick = { v, pa: [target], s: s0 };
        if (maxParents < 2) continue;
        for (const w of placed) {
          if (w === target || !(score[v]![w]! > 0)) continue;
          if (s0 + score[v]![w]! > pick.s) pick = { v, pa: [target, w], s: s0 + score[v]![w]! };
        }
        continue;
      }
      for (const u of placed) {
        const s1 = score[v]![u]!;
        if (pick === null || s1 > pick.s) pick = { v, pa: [u], s: s1 };
        if (maxParents < 2) continue;
        for (const f of families) {
          if (!f.includes(u)) continue;
          for (const w of f) {
            if (w <= u || !(score[v]![w]! > 0)) continue;
            const s2 = s1 + score[v]![w]!;
            if (s2 > pick.s) pick = { v, pa: [u, w], s: s2 };
          }
        }
      }
    }
    place(pick!.v, pick!.pa);
  }
  return { order: placed, parents };
}
