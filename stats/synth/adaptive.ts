/**
 * Adaptive measurement in the manner of AIM (McKenna, Mullins, Sheldon, Miklau, "AIM: An Adaptive
 * and Iterative Mechanism for Differentially Private Synthetic Data", VLDB 2022), with every
 * measurement a federated, charged `marginal` query through `Measure` (docs/synth.md).
 *
 * AIM selects, round after round, the marginal the current model gets most wrong, by the
 * exponential mechanism on a score computed from the exact data. Secure aggregation and CKKS only
 * sum, so that score cannot be computed. Here, as in the 2-tree's selection (select.ts), the
 * candidates are measured once, cheaply and noisily, by linear queries, and every round scores
 * them against the CURRENT fitted model (post-processing of released values):
 *
 *   score(c) = Σ_cells ((y_c − p̂_c)² − Var y_c − Var p̂_c) − cells(c) · σ_round²,
 *
 * an unbiased estimate of ‖x_c − p̂_c‖₂² (how wrong the model is on c; p̂_c from M records drawn
 * from the model, whose sampling variance is also subtracted) minus the squared error that
 * measuring c at the round's noise would itself add (AIM's penalty √(2/π)·σ·cells in L1, here in
 * squared L2). The best candidate whose addition keeps the model under the size cap (junction-tree
 * cliques of at most MAX_CLIQUE columns, at most MAX_MODEL_CELLS cells) is measured precisely
 * (one charged query), the graph re-triangulated (chordal.ts) and the model refitted, warm-started
 * from the previous fit (junction.ts `init`). Rounds: a fixed number, 2d − 3 (the number of pair
 * tables the 2-tree measures), each with the same ρ, all decided before any data is read.
 *
 * Candidates: every one-way (the step-1 measurement), every pair (one `select` query), and
 * triples (one `select-3` query): every triple when there are at most TRIPLE_CANDIDATES_PER_COLUMN·d
 * of them, else that many with the largest sum of their pairs' scores against independence.
 *
 * The rule (`chooseModel`) decides from n̂ (noisy), ρ, the number of columns and the model's level
 * cap only: the one-way product, the 2-tree, or this adaptive model (docs/synth.md).
 */
import { sha256 } from '../../crypto/sha256.ts';
import { utf8 } from '../../crypto/bytes.ts';
import { seededRandomSource, uniform01 } from '../../crypto/dp/random.ts';
import type { Predicate } from '../query.ts';
import { chordalNetwork, emptyGraph, modelSize, triangulate, withClique, type Graph } from './chordal.ts';
import { fitModel, type FitOptions, type Measurement, type ModelFit } from './junction.ts';
import { marginalQuery, regroup, type GroupedTable, type Measure, type MeasuredTables } from './marginals.ts';
import { allPairs, pairScore, type Network } from './select.ts';

/**
 * Budget of the adaptive plan, as shares of the whole ρ: the one-way steps keep their share (0.3
 * by default, model.ts); the rest is split pair candidates : triple candidates : rounds as
 * 0.15 : 0.05 : 0.5.
 */
export const AIM_SPLIT = { pairs: 0.15, triples: 0.05, rounds: 0.5 } as const;
const AIM_REST = AIM_SPLIT.pairs + AIM_SPLIT.triples + AIM_SPLIT.rounds;
/** Largest junction-tree clique (columns) and total model cells the adaptive model may grow to. */
export const MAX_CLIQUE = 3;
export const MAX_MODEL_CELLS = 65536;
/** Triple candidates per column (when there are more triples than this, the best by pair scores). */
export const TRIPLE_CANDIDATES_PER_COLUMN = 2;
/** Fewest model values per column at which two-way tables are worth measuring (model.ts). */
export const MIN_PAIR_LEVELS = 4;
/** Fewest values per column at which one round's three-way table holds about one noise σ per cell. */
export const MIN_TRIPLE_LEVELS = 3;
/**
 * A candidate's score is taken SCORE_Z noise standard deviations low (a lower confidence bound):
 * the candidate measurements are made once, so a candidate whose noise happens to inflate its
 * score would otherwise win every round (seen on flchain: one 600-cell triple, 19 rounds).
 */
export const SCORE_Z = 1.5;
/** Records drawn from the current model to predict candidate marginals: 4 n̂, between 2000 and 30000 (their sampling variance is subtracted from the scores). */
const predictRecords = (nHat: number): number => Math.round(Math.min(30000, Math.max(2000, 4 * nHat)));
/** Mirror-descent iterations of each round's refit (the last fit takes the caller's, default 1000). */
const ROUND_ITERATIONS = 150;

export type ModelPlan = 'one-way' | '2-tree' | 'aim';

/** Planned noise std of a marginal query with T tables at ρ (Gaussian equivalent; 0 when exact). */
export const plannedStd = (tables: number, rho: number | undefined): number => (rho === undefined ? 0 : Math.sqrt(tables / (2 * rho)));

export const aimRounds = (d: number): number => Math.max(1, 2 * d - 3);

export interface RuleInputs {
  /** Noisy row count (from the one-way step). */
  nHat: number;
  /** Total zCDP ρ (undefined: exact). */
  rho: number | undefined;
  /** Columns modelled. */
  d: number;
  /** Most model values per column (option). */
  maxLevels: number;
  /** Released noise std per unit of planned std, seen on the one-way step (√(k/t) for k > t contributors). */
  noiseScale: number;
  /** The 2-tree's split and whether it runs a selection query, and its measured family pairs. */
  split: readonly [number, number, number];
  selects: boolean;
  familyPairs: number;
  /** Whether the adaptive end of the rule may be chosen (method 'aim', no target). */
  adaptive: boolean;
}

export interface RuleChoice {
  plan: ModelPlan;
  /** Model values per column the plan's tables support (before the maxLevels cap). */
  levels: number;
}

/**
 * One rule from n̂, ρ and the domain: the one-way product when a pair table of 4 × 4 values would
 * hold less than one noise σ per cell; else the adaptive model when one round's three-way table of
 * 3 × 3 × 3 values would hold at least one σ per cell (and the caller allows it); else the 2-tree.
 * Levels: L = ⌊√(n̂ / σ_pair)⌋, σ_pair the noise of a pair after combining its two measurements.
 */
export function chooseModel(x: RuleInputs): RuleChoice {
  const pairs = (x.d * (x.d - 1)) / 2;
  const part = (f: number): number | undefined => (x.rho === undefined ? undefined : x.rho * f);
  const combined = (a: number, b: number): number => (a === 0 || b === 0 ? 0 : x.noiseScale / Math.sqrt(1 / (a * a) + 1 / (b * b)));
  const levelsAt = (sigma: number, power: number): number => (sigma > 0 ? Math.floor((x.nHat / sigma) ** (1 / power) + 1e-9) : Infinity);
  const s1 = x.selects ? plannedStd(pairs, part(x.split[1])) : Infinity;
  const twoTree = levelsAt(combined(s1, plannedStd(Math.max(1, x.familyPairs), part(x.split[2]))), 2);
  if (twoTree < MIN_PAIR_LEVELS) return { plan: 'one-way', levels: twoTree };
  if (!x.adaptive || x.d < 2) return { plan: '2-tree', levels: twoTree };
  const rest = 1 - x.split[0];
  const sRound = plannedStd(1, part((rest * AIM_SPLIT.rounds) / AIM_REST / aimRounds(x.d)));
  if (levelsAt(x.noiseScale * sRound, 3) < MIN_TRIPLE_LEVELS) return { plan: '2-tree', levels: twoTree };
  return { plan: 'aim', levels: levelsAt(combined(plannedStd(pairs, part((rest * AIM_SPLIT.pairs) / AIM_REST)), sRound), 2) };
}

export interface AdaptiveInput {
  names: string[];
  /** Query edges of each column at the model's resolution (coarse bins; [] for categories). */
  edges: number[][];
  filter: Predicate[];
  measure: Measure;
  /** Per column: query levels, query level → model value, model values. */
  levelSizes: number[];
  levelToGroup: Int32Array[];
  sizes: number[];
  /** The step-1 one-ways on the model's values. */
  oneWay: GroupedTable[];
  nHat: number;
  /** ρ left after the one-way steps, for the candidates and the rounds (undefined: exact). */
  rho: number | undefined;
  iterations?: number;
  log: (message: string) => void;
}

export interface AdaptiveResult {
  network: Network;
  fit: ModelFit;
  queries: { tables: MeasuredTables; purpose: string }[];
  /** The candidate measured precisely in each round (column indices). */
  chosen: number[][];
}

interface Candidate {
  columns: number[];
  y: GroupedTable;
  kind: 'one-way' | 'pair' | 'triple';
  /** Standard deviation of the score's noise when the model is right on it: √(2 Σ Var²). */
  noiseSd: number;
  /** Rounds that measured it precisely. */
  measured?: number;
}

/** Runs the candidate queries and the rounds; returns the fitted adaptive model. */
export async function fitAdaptive(a: AdaptiveInput): Promise<AdaptiveResult> {
  const d = a.names.length;
  const rounds = aimRounds(d);
  const share = (f: number): number | undefined => (a.rho === undefined ? undefined : (a.rho * f) / AIM_REST);
  const queries: AdaptiveResult['queries'] = [];
  const ask = async (tables: number[][], rho: number | undefined, purpose: string): Promise<GroupedTable[]> => {
    // the query names only the columns its tables use (the marginal kind refuses unused ones)
    const used = [...new Set(tables.flat())].sort((x, y) => x - y);
    const local = tables.map((t) => t.map((c) => used.indexOf(c)));
    const m = await a.measure(marginalQuery(used.map((c) => a.names[c]!), used.map((c) => a.edges[c]!), local, a.filter), rho, purpose);
    queries.push({ tables: m, purpose });
    return m.tables.map((t, k) => regroup(t, m.variance, tables[k]!, a.levelSizes, a.levelToGroup, a.sizes));
  };
  const pairs = allPairs(d);
  const allTriples: number[][] = [];
  for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) for (let k = j + 1; k < d; k++) allTriples.push([i, j, k]);
  // with fewer than 3 columns there are no triples: their share goes to the rounds (known from d alone)
  const roundRho = share((AIM_SPLIT.rounds + (allTriples.length === 0 ? AIM_SPLIT.triples : 0)) / rounds);

  a.log(`measuring ${pairs.length} two-way candidates${a.rho === undefined ? ' (exact)' : ` (rho = ${share(AIM_SPLIT.pairs)!.toPrecision(3)})`}`);
  const pairY = pairs.length > 0 ? await ask(pairs, share(AIM_SPLIT.pairs), 'select') : [];
  const oneWayP = a.oneWay.map((g) => {
    const c = Array.from(g.counts, (x) => Math.max(0, x));
    const z = c.reduce((s, x) => s + x, 0);
    return Float64Array.from(c, (x) => (z > 0 ? x / z : 1 / c.length));
  });
  const ps = new Map(pairs.map(([i, j], k) => [`${i},${j}`, Math.max(0, pairScore(pairY[k]!, [oneWayP[i]!, oneWayP[j]!], a.nHat))]));
  const limit = TRIPLE_CANDIDATES_PER_COLUMN * d;
  const ranked = allTriples.length <= limit ? allTriples : allTriples
    .map((t) => ({ t, s: ps.get(`${t[0]},${t[1]}`)! + ps.get(`${t[0]},${t[2]}`)! + ps.get(`${t[1]},${t[2]}`)! }))
    .sort((x, y) => y.s - x.s).slice(0, limit).map((x) => x.t).sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!);
  let tripleY: GroupedTable[] = [];
  if (ranked.length > 0) {
    a.log(`measuring ${ranked.length} three-way candidates${a.rho === undefined ? ' (exact)' : ` (rho = ${share(AIM_SPLIT.triples)!.toPrecision(3)})`}`);
    tripleY = await ask(ranked, share(AIM_SPLIT.triples), 'select-3');
  }
  const sd = (y: GroupedTable): number => Math.sqrt(2 * y.variance.reduce((s, v) => s + v * v, 0));
  const candidates: Candidate[] = [
    ...a.oneWay.map((y, i): Candidate => ({ columns: [i], y, kind: 'one-way', noiseSd: sd(y) })),
    ...pairs.map((p, k): Candidate => ({ columns: p, y: pairY[k]!, kind: 'pair', noiseSd: sd(pairY[k]!) })),
    ...ranked.map((t, k): Candidate => ({ columns: t, y: tripleY[k]!, kind: 'triple', noiseSd: sd(tripleY[k]!) })),
  ];
  // the noise one round's table will carry: the pair query's released variance per unit of planned variance
  const pairVar = queries[0]?.tables.variance ?? 0;
  const roundVar = a.rho === undefined || pairs.length === 0 ? 0 : (pairVar * plannedStd(1, roundRho) ** 2) / plannedStd(pairs.length, share(AIM_SPLIT.pairs)) ** 2;

  let graph: Graph = emptyGraph(d);
  let network = chordalNetwork(graph);
  const precise: Measurement[] = [];
  const measurements = (g: Graph): Measurement[] => {
    const out: Measurement[] = a.oneWay.map((y) => ({ columns: y.columns, counts: y.counts, variance: y.variance }));
    candidates.forEach((c) => {
      if (c.kind === 'one-way') return;
      const joined = c.columns.every((x) => c.columns.every((z) => x === z || g[x]![z]));
      if (joined) out.push({ columns: c.columns, counts: c.y.counts, variance: c.y.variance });
      else if (c.kind === 'pair') for (const axis of [0, 1] as const) out.push(margin(c.y, axis));
    });
    return [...out, ...precise];
  };
  const refit = (prev: ModelFit | null, prevNet: Network, iterations: number): ModelFit => {
    const opts: FitOptions = { iterations };
    if (prev) opts.init = prevNet.order.map((v) => ({ columns: [...prevNet.parents[v]!, v], log: Float64Array.from(prev.cpt[v]!.flat(), (p) => Math.log(Math.max(p, 1e-12))) }));
    return fitModel(a.sizes, network.parents, network.order, measurements(graph), opts);
  };
  // each round's refit: ROUND_ITERATIONS, or fewer when the caller caps every fit lower
  const roundIterations = Math.min(ROUND_ITERATIONS, a.iterations ?? ROUND_ITERATIONS);
  let fit = refit(null, network, roundIterations);
  const chosen: number[][] = [];
  for (let r = 0; r < rounds; r++) {
    const codes = drawRecords(network, fit.cpt, a.sizes, predictRecords(a.nHat), `round ${r}`);
    let best: { c: Candidate; score: number; graph: Graph } | null = null;
    // a candidate measured in an earlier round is not measured again while others remain: its
    // candidate measurement is fixed, so its noise would keep its score high round after round
    const fresh = candidates.filter((c) => !c.measured);
    for (const c of fresh.length > 0 ? fresh : candidates) {
      const joined = c.columns.every((x) => c.columns.every((z) => x === z || graph[x]![z]));
      const g = joined ? graph : triangulate(withClique(graph, c.columns));
      if (!joined) {
        const size = modelSize(chordalNetwork(g), a.sizes);
        if (size.maxClique > MAX_CLIQUE || size.cells > MAX_MODEL_CELLS) continue;
      }
      const s = candidateScore(c.y, codes, fit.total) - c.y.counts.length * roundVar - SCORE_Z * c.noiseSd;
      if (best === null || s > best.score) best = { c, score: s, graph: g };
    }
    if (best === null) break; // cannot happen: the one-ways are always admissible
    if (best.score <= 0 && roundVar > 0) {
      // nothing left that the model demonstrably gets wrong: the round's fixed budget goes to the
      // measured table whose next measurement removes the most squared noise, cells·σ²/(k(k + 1))
      // after k precise measurements (AIM spends such budget by measuring again at more ρ)
      const again = candidates.filter((c) => (c.measured ?? 0) > 0);
      const gain = (c: Candidate): number => c.y.counts.length / (c.measured! * (c.measured! + 1));
      const pick = again.reduce<Candidate | null>((x, c) => (x === null || gain(c) > gain(x) ? c : x), null);
      if (pick) best = { c: pick, score: best.score, graph };
    }
    const [y] = await ask([best.c.columns], roundRho, `round-${r + 1}`);
    precise.push({ columns: y!.columns, counts: y!.counts, variance: y!.variance });
    best.c.measured = (best.c.measured ?? 0) + 1;
    chosen.push(best.c.columns);
    a.log(`round ${r + 1}/${rounds}: ${best.c.columns.map((i) => a.names[i]).join(' × ')} (score ${best.score.toPrecision(3)})`);
    const prevNet = network;
    graph = best.graph;
    network = chordalNetwork(graph);
    fit = refit(fit, prevNet, r === rounds - 1 ? (a.iterations ?? 1000) : roundIterations);
  }
  return { network, fit, queries, chosen };
}

/**
 * Σ_cells ((y − p̂)² − Var y − Var p̂): unbiased for ‖x − p̂‖₂² given the model, p̂ = N̂ · (share of
 * the M drawn records in each cell), whose multinomial variance N̂²·q(1 − q)/M is subtracted too.
 */
export function candidateScore(y: GroupedTable, codes: Int32Array[], total: number): number {
  const m = codes[0]?.length ?? 0;
  const counts = new Float64Array(y.counts.length);
  const cols = y.columns;
  for (let r = 0; r < m; r++) {
    let cell = 0;
    for (let k = 0; k < cols.length; k++) cell = cell * y.shape[k]! + codes[cols[k]!]![r]!;
    counts[cell]!++;
  }
  let s = 0;
  for (let i = 0; i < counts.length; i++) {
    const q = m > 0 ? counts[i]! / m : 0;
    const diff = y.counts[i]! - total * q;
    s += diff * diff - y.variance[i]! - (m > 0 ? (total * total * q * (1 - q)) / m : 0);
  }
  return s;
}

/** M records of model values drawn along the network (ancestral sampling; seeded, so deterministic). */
export function drawRecords(net: Network, cpt: number[][][], sizes: number[], m: number, seed: string): Int32Array[] {
  const rng = seededRandomSource(sha256(utf8(`blindsum/synth/adaptive/v1|${seed}`)));
  const codes = sizes.map(() => new Int32Array(m));
  for (const v of net.order) {
    const pa = net.parents[v]!;
    const out = codes[v]!;
    for (let r = 0; r < m; r++) {
      let row = 0;
      for (const p of pa) row = row * sizes[p]! + codes[p]![r]!;
      const p = cpt[v]![row]!;
      const u = uniform01(rng);
      let acc = 0;
      let k = 0;
      for (; k < p.length - 1; k++) {
        acc += p[k]!;
        if (u < acc) break;
      }
      out[r] = k;
    }
  }
  return codes;
}

/** Row (axis 0) or column (axis 1) sums of a two-way table, with their variances. */
export function margin(t: GroupedTable, axis: 0 | 1): Measurement {
  const [ka, kb] = t.shape as [number, number];
  const counts = new Float64Array(axis === 0 ? ka : kb);
  const variance = new Float64Array(counts.length);
  for (let i = 0; i < ka; i++) {
    for (let j = 0; j < kb; j++) {
      counts[axis === 0 ? i : j] += t.counts[i * kb + j]!;
      variance[axis === 0 ? i : j] += t.variance[i * kb + j]!;
    }
  }
  return { columns: [t.columns[axis]!], counts, variance };
}
