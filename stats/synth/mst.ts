/**
 * Which pairs of attributes the model measures: a maximum spanning tree over pair scores, as in
 * MST (McKenna, Miklau, Sheldon, "Winning the NIST Contest", JPC 2021).
 *
 * MST scores each pair by how badly the current model (independent one-ways) explains it,
 * ‖x_ij − x̂_ij‖₁ on the exact data, and picks edges with the exponential mechanism. Exact pair
 * scores are not linear in the parties' data, so secure aggregation cannot compute them. Here the
 * score is computed from a released noisy measurement y_ij of every pair table (one federated
 * marginal query): s_ij = Σ_cells ((y − x̂)² − Var(noise)), an unbiased estimate of ‖x_ij − x̂_ij‖₂²
 * (E(y − x̂)² = (x − x̂)² + Var). Choosing the tree from released numbers is post-processing: the
 * whole privacy cost of selection is that measurement's ρ. Ties break by pair order (deterministic).
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

/** Kruskal: the maximum-weight spanning tree of d nodes (a forest if weights are missing). */
export function maximumSpanningTree(d: number, edges: { a: number; b: number; weight: number }[]): [number, number][] {
  const parent = Array.from({ length: d }, (_, i) => i);
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };
  const order = edges.map((e, i) => ({ ...e, i })).sort((x, y) => y.weight - x.weight || x.i - y.i);
  const out: [number, number][] = [];
  for (const e of order) {
    const ra = find(e.a);
    const rb = find(e.b);
    if (ra === rb) continue;
    parent[ra] = rb;
    out.push([Math.min(e.a, e.b), Math.max(e.a, e.b)]);
    if (out.length === d - 1) break;
  }
  return out;
}

/** All pairs (i < j) of d attributes, in lexicographic order. */
export function allPairs(d: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) out.push([i, j]);
  return out;
}

/**
 * Rooted form of a spanning forest: a visiting order (parents before children) and each node's
 * parent (−1 for a root). Roots are the lowest-numbered node of each component; neighbours are
 * visited in increasing order, so the result is deterministic.
 */
export function rootTree(d: number, edges: [number, number][]): { order: number[]; parent: number[] } {
  const nbrs: number[][] = Array.from({ length: d }, () => []);
  for (const [a, b] of edges) {
    nbrs[a]!.push(b);
    nbrs[b]!.push(a);
  }
  for (const n of nbrs) n.sort((x, y) => x - y);
  const parent = new Array<number>(d).fill(-2);
  const order: number[] = [];
  for (let r = 0; r < d; r++) {
    if (parent[r] !== -2) continue;
    parent[r] = -1;
    const queue = [r];
    while (queue.length > 0) {
      const u = queue.shift()!;
      order.push(u);
      for (const v of nbrs[u]!) {
        if (parent[v] !== -2) continue;
        parent[v] = u;
        queue.push(v);
      }
    }
  }
  return { order, parent };
}
