/**
 * Fitting a decomposable graphical model to noisy marginals, the Private-PGM way (McKenna,
 * Sheldon, Miklau, "Graphical-model based estimation and inference for differential privacy",
 * ICML 2019): minimize Σ_m Σ_cells (μ_m − y_m)² / (2·Var_m) of the model's marginals μ against
 * every measurement y, over the distributions that factor over the cliques of a junction tree, by
 * entropic mirror descent on the clique log-potentials θ, with exact marginals from junction-tree
 * belief propagation (two passes, in log space) and Private-PGM's backtracking step-size rule.
 *
 * The model's structure is a Bayesian network whose every parent set lies inside an earlier
 * family (select.ts); its families {v} ∪ pa(v) are the cliques of a chordal graph, so the maximal
 * ones, joined by a maximum spanning tree on separator size, form a junction tree. The result is
 * non-negative and consistent by construction (a distribution), and sampling from it is ancestral
 * along the network with p(v | pa(v)) read off a clique marginal.
 *
 * A measurement may group a column's model values (a coarser table of the same clique): each
 * measurement is a linear map from a clique's cells to its own cells (`cellMap`), so projection
 * and its adjoint are one loop each. Without noise (consistent measurements) the minimum is 0.
 */
export interface Measurement {
  /** Model columns of the table, in its row-major axis order. */
  columns: number[];
  counts: Float64Array;
  /** Noise variance of each cell (floored at 1 count in the loss, so exact data is weighted evenly). */
  variance: Float64Array;
  /** Per column: model value → measured level (absent: the model values themselves). */
  groups?: (Int32Array | null)[];
}

export interface FitOptions {
  iterations?: number;
  /**
   * Warm start: log-factors (e.g. log p(v | parents) of an earlier fit), each a row-major table
   * over its columns, added to the log-potential of the smallest clique that holds them. With the
   * conditional tables of an earlier network whose families all lie in cliques of this one, the
   * starting model is that earlier fit (adaptive.ts refits after each round this way).
   */
  init?: { columns: number[]; log: Float64Array }[];
}

export interface ModelFit {
  /** cpt[v][parent configuration (row-major over parents[v])][value]. */
  cpt: number[][][];
  loss: number;
  iterations: number;
  total: number;
  cliques: number[][];
}

/** Per cell of a table over `attrs` (row-major), the index of its cell in a table over `target` (subset, own order, optional grouping). */
export function cellMap(attrs: number[], sizes: number[], target: number[], groups?: (Int32Array | null)[]): Int32Array {
  const shape = attrs.map((a) => sizes[a]!);
  const n = shape.reduce((x, y) => x * y, 1);
  const pos = target.map((t) => {
    const p = attrs.indexOf(t);
    if (p < 0) throw new RangeError(`column ${t} is not in the table over [${attrs.join(', ')}]`);
    return p;
  });
  const tShape = target.map((t, k) => (groups?.[k] ? Math.max(...groups[k]!) + 1 : sizes[t]!));
  const strides = new Array<number>(target.length).fill(1);
  for (let k = target.length - 2; k >= 0; k--) strides[k] = strides[k + 1]! * tShape[k + 1]!;
  const out = new Int32Array(n);
  const idx = new Array<number>(attrs.length).fill(0);
  for (let cell = 0; cell < n; cell++) {
    let m = 0;
    for (let k = 0; k < target.length; k++) {
      const v = idx[pos[k]!]!;
      m += (groups?.[k] ? groups[k]![v]! : v) * strides[k]!;
    }
    out[cell] = m;
    for (let j = attrs.length - 1; j >= 0; j--) {
      if (++idx[j]! < shape[j]!) break;
      idx[j] = 0;
    }
  }
  return out;
}

/** log Σ exp over the cells that map to each target cell. */
function logMarginal(logs: Float64Array, map: Int32Array, size: number): Float64Array {
  const max = new Float64Array(size).fill(-Infinity);
  for (let i = 0; i < logs.length; i++) if (logs[i]! > max[map[i]!]!) max[map[i]!] = logs[i]!;
  const s = new Float64Array(size);
  for (let i = 0; i < logs.length; i++) if (max[map[i]!]! > -Infinity) s[map[i]!] += Math.exp(logs[i]! - max[map[i]!]!);
  for (let k = 0; k < size; k++) s[k] = max[k]! === -Infinity ? -Infinity : max[k]! + Math.log(s[k]!);
  return s;
}

/** The junction tree of the families of a Bayesian network (parents before children in `order`). */
export class JunctionTree {
  readonly sizes: number[];
  /** Maximal cliques (attribute lists) in visiting order: a parent clique before its children. */
  readonly cliques: number[][];
  /** Parent clique of each clique (−1 for the root). */
  readonly up: number[];
  readonly cells: number[];
  /** Per non-root clique: its cells → separator cells, and its parent's cells → the same separator cells. */
  readonly #toSep: Int32Array[] = [];
  readonly #parentToSep: Int32Array[] = [];
  readonly #sepSize: number[] = [];

  constructor(sizes: number[], parents: number[][], order: number[]) {
    this.sizes = sizes;
    const families = order.map((v) => [...parents[v]!, v]);
    const maximal = families.filter((f, i) => !families.some((g, j) => j !== i && g.length > f.length && f.every((x) => g.includes(x))));
    // identical families cannot occur (each family has its own child), so `maximal` has no duplicates
    // Prim's maximum spanning tree on separator size, from the first clique, gives the visiting order
    const n = maximal.length;
    const inTree = new Array<boolean>(n).fill(false);
    const best = new Array<number>(n).fill(-1);
    const link = new Array<number>(n).fill(-1);
    const visit: number[] = [];
    const up: number[] = [];
    for (let step = 0; step < n; step++) {
      let pick = -1;
      for (let i = 0; i < n; i++) if (!inTree[i] && (pick < 0 || best[i]! > best[pick]!)) pick = i;
      inTree[pick] = true;
      visit.push(pick);
      up.push(link[pick]!);
      for (let i = 0; i < n; i++) {
        if (inTree[i]) continue;
        const w = maximal[i]!.filter((x) => maximal[pick]!.includes(x)).length;
        if (w > best[i]!) {
          best[i] = w;
          link[i] = pick;
        }
      }
    }
    const position = new Map(visit.map((c, k) => [c, k]));
    this.cliques = visit.map((c) => maximal[c]!);
    this.up = up.map((p) => (p < 0 ? -1 : position.get(p)!));
    this.cells = this.cliques.map((c) => c.reduce((a, x) => a * sizes[x]!, 1));
    this.cliques.forEach((c, k) => {
      const p = this.up[k]!;
      if (p < 0) return;
      const sep = c.filter((x) => this.cliques[p]!.includes(x));
      this.#toSep[k] = cellMap(c, sizes, sep);
      this.#parentToSep[k] = cellMap(this.cliques[p]!, sizes, sep);
      this.#sepSize[k] = sep.reduce((a, x) => a * sizes[x]!, 1);
    });
  }

  /** The smallest clique holding all of `columns`. */
  cliqueOf(columns: number[]): number {
    let best = -1;
    this.cliques.forEach((c, k) => {
      if (columns.every((x) => c.includes(x)) && (best < 0 || this.cells[k]! < this.cells[best]!)) best = k;
    });
    if (best < 0) throw new RangeError(`no clique of the model holds columns [${columns.join(', ')}]`);
    return best;
  }

  /** Clique marginals (probabilities, row-major over each clique's attributes) of the model exp(Σ θ_C). */
  marginals(thetas: Float64Array[]): Float64Array[] {
    const k = this.cliques.length;
    const belief = thetas.map((t) => Float64Array.from(t));
    const msgUp: Float64Array[] = new Array(k);
    for (let c = k - 1; c > 0; c--) {
      const p = this.up[c]!;
      const m = logMarginal(belief[c]!, this.#toSep[c]!, this.#sepSize[c]!);
      msgUp[c] = m;
      const map = this.#parentToSep[c]!;
      const bp = belief[p]!;
      for (let i = 0; i < bp.length; i++) bp[i] += m[map[i]!]!;
    }
    for (let c = 1; c < k; c++) {
      const p = this.up[c]!;
      const map = this.#parentToSep[c]!;
      const bp = belief[p]!;
      const up = msgUp[c]!;
      const without = new Float64Array(bp.length);
      for (let i = 0; i < bp.length; i++) without[i] = bp[i]! - up[map[i]!]!;
      const down = logMarginal(without, map, this.#sepSize[c]!);
      const toSep = this.#toSep[c]!;
      const bc = belief[c]!;
      for (let i = 0; i < bc.length; i++) bc[i] += down[toSep[i]!]!;
    }
    return belief.map((b) => {
      const z = logMarginal(b, new Int32Array(b.length), 1)[0]!;
      return b.map((x) => Math.exp(x - z));
    });
  }
}

interface Assigned {
  clique: number;
  map: Int32Array;
  m: Measurement;
  weight: Float64Array;
}

/** Fits the network's junction-tree model to the measurements; returns its conditional tables. */
export function fitModel(sizes: number[], parents: number[][], order: number[], measurements: Measurement[], opts: FitOptions = {}): ModelFit {
  const jt = new JunctionTree(sizes, parents, order);
  const assigned: Assigned[] = measurements.map((m) => {
    const clique = jt.cliqueOf(m.columns);
    const map = cellMap(jt.cliques[clique]!, sizes, m.columns, m.groups);
    let cells = 0;
    for (const x of map) cells = Math.max(cells, x + 1);
    if (cells !== m.counts.length || m.variance.length !== m.counts.length) throw new RangeError(`measurement over [${m.columns.join(', ')}]: expected ${cells} cells, got ${m.counts.length}`);
    return { clique, map, m, weight: m.variance.map((v) => 1 / Math.max(1, v)) };
  });
  // Total: inverse-variance weighted mean of the measurements' totals.
  let wsum = 0;
  let tsum = 0;
  for (const m of measurements) {
    const v = Math.max(1, m.variance.reduce((a, b) => a + b, 0));
    tsum += m.counts.reduce((a, b) => a + b, 0) / v;
    wsum += 1 / v;
  }
  const total = wsum > 0 ? Math.max(1, tsum / wsum) : 1;
  const lossGrad = (thetas: Float64Array[]): { loss: number; grad: Float64Array[]; mu: Float64Array[] } => {
    const mu = jt.marginals(thetas).map((p) => p.map((x) => x * total));
    const grad = mu.map((x) => new Float64Array(x.length));
    let loss = 0;
    for (const a of assigned) {
      const pred = new Float64Array(a.m.counts.length);
      const mc = mu[a.clique]!;
      for (let i = 0; i < mc.length; i++) pred[a.map[i]!] += mc[i]!;
      const r = new Float64Array(pred.length);
      for (let i = 0; i < pred.length; i++) {
        const diff = pred[i]! - a.m.counts[i]!;
        loss += 0.5 * a.weight[i]! * diff * diff;
        r[i] = a.weight[i]! * diff;
      }
      const g = grad[a.clique]!;
      for (let i = 0; i < g.length; i++) g[i] += r[a.map[i]!]!;
    }
    return { loss, grad, mu };
  };
  let thetas = jt.cells.map((n) => new Float64Array(n));
  for (const f of opts.init ?? []) {
    const c = jt.cliqueOf(f.columns);
    const map = cellMap(jt.cliques[c]!, sizes, f.columns);
    const th = thetas[c]!;
    for (let i = 0; i < th.length; i++) th[i] += f.log[map[i]!]!;
  }
  let cur = lossGrad(thetas);
  const maxWeight = Math.max(1e-12, ...assigned.map((a) => Math.max(...a.weight)));
  let alpha = 1 / (total * maxWeight);
  const iterations = opts.iterations ?? 1000;
  let it = 0;
  for (; it < iterations; it++) {
    alpha *= 2;
    let next = cur;
    let nextThetas = thetas;
    for (let tries = 0; tries < 30; tries++) {
      nextThetas = thetas.map((th, ci) => th.map((x, i) => x - alpha * cur.grad[ci]![i]!));
      next = lossGrad(nextThetas);
      // Private-PGM's rule: accept when the decrease is at least half the linear prediction.
      let predicted = 0;
      cur.grad.forEach((g, ci) => g.forEach((x, i) => (predicted += x * (cur.mu[ci]![i]! - next.mu[ci]![i]!))));
      if (cur.loss - next.loss >= 0.5 * predicted) break;
      alpha *= 0.5;
    }
    const improvement = cur.loss - next.loss;
    if (!(improvement > 0)) break;
    thetas = nextThetas;
    cur = next;
    if (improvement <= 1e-12 * Math.max(1, cur.loss)) break;
  }
  const probs = jt.marginals(thetas);
  const cpt: number[][][] = sizes.map(() => []);
  for (const v of order) {
    const family = [...parents[v]!, v];
    const c = jt.cliqueOf(family);
    const joint = new Float64Array(family.reduce((a, x) => a * sizes[x]!, 1));
    const map = cellMap(jt.cliques[c]!, sizes, family);
    probs[c]!.forEach((p, i) => (joint[map[i]!] += p));
    const sv = sizes[v]!;
    const rows = joint.length / sv;
    const fallback = new Array<number>(sv).fill(0);
    for (let i = 0; i < joint.length; i++) fallback[i % sv] += joint[i]!;
    cpt[v] = Array.from({ length: rows }, (_, r) => {
      const row = Array.from(joint.subarray(r * sv, (r + 1) * sv));
      const z = row.reduce((a, b) => a + b, 0);
      return z > 0 ? row.map((x) => x / z) : [...fallback];
    });
  }
  return { cpt, loss: cur.loss, iterations: it, total, cliques: jt.cliques.map((c) => [...c]) };
}
