/**
 * Fitting a tree-structured graphical model to noisy marginals, the Private-PGM way (McKenna,
 * Sheldon, Miklau, "Graphical-model based estimation and inference for differential privacy",
 * ICML 2019): minimize the weighted squared error Σ_m Σ_cells (μ_m − y_m)² / (2·Var_m) of the
 * model's marginals μ against every measurement y, over the distributions that factor over the
 * tree, by entropic mirror descent on the log-potentials θ (one table per tree edge), with exact
 * marginals from belief propagation and Private-PGM's backtracking step-size rule. The result is
 * consistent and non-negative by construction (a distribution), and on a tree it is the
 * maximum-entropy distribution with its own edge marginals: p(x) = p(root) Π p(child | parent).
 *
 * Without noise (consistent measurements) the minimum is 0 at the true marginals.
 */
export interface TreeMeasurement {
  /** Model columns: one column, or a tree edge [a, b] (either orientation). */
  columns: number[];
  counts: Float64Array;
  /** Noise variance of each cell (floored at 1 count in the loss, so exact data is weighted evenly). */
  variance: Float64Array;
}

export interface TreeFitOptions {
  iterations?: number;
}

export interface TreeFit {
  /** Conditional tables: root → [P(value)]; child → rows P(value | parent value). */
  cpt: number[][][];
  loss: number;
  iterations: number;
  total: number;
}

interface Clique {
  /** [parent, child] for an edge, [node] for a lone node. */
  nodes: number[];
  theta: Float64Array;
}

interface Assigned {
  clique: number;
  /** 'full': same axis order; 'transposed'; 'axis0'/'axis1': the one-way of that axis; 'single'. */
  mode: 'full' | 'transposed' | 'axis0' | 'axis1' | 'single';
  m: TreeMeasurement;
  weight: Float64Array;
}

function logSumExp(xs: Float64Array | number[]): number {
  let m = -Infinity;
  for (const x of xs) if (x > m) m = x;
  if (m === -Infinity) return m;
  let s = 0;
  for (const x of xs) s += Math.exp(x - m);
  return m + Math.log(s);
}

export class TreeModel {
  readonly sizes: number[];
  readonly parent: number[];
  readonly order: number[];
  readonly cliques: Clique[] = [];
  /** Clique of each edge, keyed by its child node. */
  readonly #edgeOf: number[];
  readonly #children: number[][];

  constructor(sizes: number[], parent: number[], order: number[]) {
    this.sizes = sizes;
    this.parent = parent;
    this.order = order;
    const d = sizes.length;
    this.#children = Array.from({ length: d }, () => []);
    this.#edgeOf = new Array<number>(d).fill(-1);
    for (const v of order) if (parent[v]! >= 0) this.#children[parent[v]!]!.push(v);
    for (const v of order) {
      if (parent[v]! >= 0) {
        this.#edgeOf[v] = this.cliques.length;
        this.cliques.push({ nodes: [parent[v]!, v], theta: new Float64Array(sizes[parent[v]!]! * sizes[v]!) });
      } else if (this.#children[v]!.length === 0) {
        this.#edgeOf[v] = this.cliques.length;
        this.cliques.push({ nodes: [v], theta: new Float64Array(sizes[v]!) });
      }
    }
  }

  /** Which clique holds a measurement over `columns`, and how it projects onto it. */
  assign(columns: number[]): { clique: number; mode: Assigned['mode'] } {
    if (columns.length === 1) {
      const v = columns[0]!;
      if (this.parent[v]! >= 0) return { clique: this.#edgeOf[v]!, mode: 'axis1' };
      const c = this.#children[v]![0];
      if (c !== undefined) return { clique: this.#edgeOf[c]!, mode: 'axis0' };
      return { clique: this.#edgeOf[v]!, mode: 'single' };
    }
    const [a, b] = columns as [number, number];
    if (this.parent[b] === a) return { clique: this.#edgeOf[b]!, mode: 'full' };
    if (this.parent[a] === b) return { clique: this.#edgeOf[a]!, mode: 'transposed' };
    throw new RangeError(`measurement over columns [${a}, ${b}] is not an edge of the tree`);
  }

  /** Exact marginals by belief propagation: probabilities per clique (row-major) and per node. */
  marginals(thetas: Float64Array[]): { cliques: Float64Array[]; nodes: Float64Array[] } {
    const d = this.sizes.length;
    const up: Float64Array[] = this.sizes.map((s) => new Float64Array(s));
    const msgUp: Float64Array[] = new Array(d); // message from child v to its parent, over the parent's values
    for (let k = this.order.length - 1; k >= 0; k--) {
      const v = this.order[k]!;
      const p = this.parent[v]!;
      if (p < 0) continue;
      const th = thetas[this.#edgeOf[v]!]!;
      const sp = this.sizes[p]!;
      const sv = this.sizes[v]!;
      const msg = new Float64Array(sp);
      const row = new Float64Array(sv);
      for (let i = 0; i < sp; i++) {
        for (let j = 0; j < sv; j++) row[j] = th[i * sv + j]! + up[v]![j]!;
        msg[i] = logSumExp(row);
      }
      msgUp[v] = msg;
      for (let i = 0; i < sp; i++) up[p]![i]! += msg[i]!;
    }
    const down: Float64Array[] = this.sizes.map((s) => new Float64Array(s));
    for (const v of this.order) {
      const p = this.parent[v]!;
      if (p < 0) {
        if (this.#children[v]!.length === 0) down[v]!.set(thetas[this.#edgeOf[v]!]!);
        continue;
      }
      const th = thetas[this.#edgeOf[v]!]!;
      const sp = this.sizes[p]!;
      const sv = this.sizes[v]!;
      const col = new Float64Array(sp);
      for (let j = 0; j < sv; j++) {
        for (let i = 0; i < sp; i++) col[i] = th[i * sv + j]! + down[p]![i]! + up[p]![i]! - msgUp[v]![i]!;
        down[v]![j] = logSumExp(col);
      }
    }
    const normalize = (logs: Float64Array): Float64Array => {
      const z = logSumExp(logs);
      return logs.map((x) => Math.exp(x - z));
    };
    const nodes = this.sizes.map((_, v) => normalize(up[v]!.map((x, i) => x + down[v]![i]!)));
    const cliques = this.cliques.map((c, ci) => {
      if (c.nodes.length === 1) return normalize(new Float64Array(thetas[ci]!));
      const [p, v] = c.nodes as [number, number];
      const sp = this.sizes[p]!;
      const sv = this.sizes[v]!;
      const th = thetas[ci]!;
      const logs = new Float64Array(sp * sv);
      for (let i = 0; i < sp; i++) {
        const outer = down[p]![i]! + up[p]![i]! - msgUp[v]![i]!;
        for (let j = 0; j < sv; j++) logs[i * sv + j] = th[i * sv + j]! + outer + up[v]![j]!;
      }
      return normalize(logs);
    });
    return { cliques, nodes };
  }
}

/** Projects clique marginal (counts) onto a measurement's cells. */
function project(a: Assigned, mu: Float64Array, shape: number[]): Float64Array {
  const out = new Float64Array(a.m.counts.length);
  if (a.mode === 'full' || a.mode === 'single') return mu;
  const [s0, s1] = shape as [number, number];
  for (let i = 0; i < s0; i++) {
    for (let j = 0; j < s1; j++) {
      const x = mu[i * s1 + j]!;
      if (a.mode === 'transposed') out[j * s0 + i] = x;
      else if (a.mode === 'axis0') out[i] += x;
      else out[j] += x;
    }
  }
  return out;
}

/** Adds Pᵀ r (the adjoint of project) to the clique gradient g. */
function addAdjoint(a: Assigned, r: Float64Array, g: Float64Array, shape: number[]): void {
  if (a.mode === 'full' || a.mode === 'single') {
    for (let i = 0; i < r.length; i++) g[i] += r[i]!;
    return;
  }
  const [s0, s1] = shape as [number, number];
  for (let i = 0; i < s0; i++) {
    for (let j = 0; j < s1; j++) {
      g[i * s1 + j] += a.mode === 'transposed' ? r[j * s0 + i]! : a.mode === 'axis0' ? r[i]! : r[j]!;
    }
  }
}

/** Fits the tree model to the measurements; returns the conditional tables. */
export function fitTree(sizes: number[], parent: number[], order: number[], measurements: TreeMeasurement[], opts: TreeFitOptions = {}): TreeFit {
  const model = new TreeModel(sizes, parent, order);
  const assigned: Assigned[] = measurements.map((m) => {
    const { clique, mode } = model.assign(m.columns);
    return { clique, mode, m, weight: m.variance.map((v) => 1 / Math.max(1, v)) };
  });
  // Total: inverse-variance weighted mean of the measurements' totals.
  let wsum = 0;
  let tsum = 0;
  for (const m of measurements) {
    const v = Math.max(1, m.variance.reduce((a, b) => a + b, 0));
    tsum += m.counts.reduce((a, b) => a + b, 0) / v;
    wsum += 1 / v;
  }
  const total = Math.max(1, tsum / wsum);
  const shapes = model.cliques.map((c) => c.nodes.map((n) => sizes[n]!));
  const lossGrad = (thetas: Float64Array[]): { loss: number; grad: Float64Array[]; mu: Float64Array[]; nodes: Float64Array[] } => {
    const { cliques, nodes } = model.marginals(thetas);
    const mu = cliques.map((p) => p.map((x) => x * total));
    const grad = mu.map((x) => new Float64Array(x.length));
    let loss = 0;
    for (const a of assigned) {
      const pred = project(a, mu[a.clique]!, shapes[a.clique]!);
      const r = new Float64Array(pred.length);
      for (let i = 0; i < pred.length; i++) {
        const diff = pred[i]! - a.m.counts[i]!;
        loss += 0.5 * a.weight[i]! * diff * diff;
        r[i] = a.weight[i]! * diff;
      }
      addAdjoint(a, r, grad[a.clique]!, shapes[a.clique]!);
    }
    return { loss, grad, mu, nodes };
  };
  let thetas = model.cliques.map((c) => new Float64Array(c.theta.length));
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
  const { cliques, nodes } = model.marginals(thetas);
  const cpt: number[][][] = sizes.map(() => []);
  for (const v of order) {
    const p = parent[v]!;
    if (p < 0) {
      cpt[v] = [Array.from(nodes[v]!)];
      continue;
    }
    const ci = model.cliques.findIndex((c) => c.nodes.length === 2 && c.nodes[1] === v);
    const joint = cliques[ci]!;
    const sp = sizes[p]!;
    const sv = sizes[v]!;
    cpt[v] = Array.from({ length: sp }, (_, i) => {
      const row = Array.from({ length: sv }, (__, j) => joint[i * sv + j]!);
      const z = row.reduce((a, b) => a + b, 0);
      return z > 0 ? row.map((x) => x / z) : Array.from(nodes[v]!);
    });
  }
  return { cpt, loss: cur.loss, iterations: it, total };
}
