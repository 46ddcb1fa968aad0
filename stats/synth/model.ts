/**
 * The synthesizer end to end (docs/synth.md): measure, select, fit, and the model that results.
 *
 * method 'mst' (budget ρ split by `split`, 0.3 / 0.2 / 0.5 by default):
 *   0. range: a one-way histogram of each numeric column, `rangeBins` equal-width bins over its
 *      schema bounds (a share `rangeShare` of ρ₁); its noisy counts place the fine bins where the
 *      data are (discretize.ts refineEdges);
 *   1. one-way: one marginal query with a one-way table per column at fine resolution (rest of ρ₁);
 *      coarse bins and model values are chosen from these noisy counts (discretize.ts);
 *      When the rows are too few for the noise of two-way tables (under 4 model values per
 *      column would hold one σ per cell), steps 2–3 are skipped: their budget measures the
 *      one-ways again, and the model is the product of the combined one-ways;
 *   2. select: one marginal query with every pair table at the model's resolution (ρ₂); the
 *      network grown from the bias-corrected pair scores (select.ts) is post-processing. A
 *      naive Bayes network (maxParents 1 with a target) is fixed in advance: no selection, and
 *      ρ₂ goes to step 3;
 *   3. measure: one marginal query with every pair inside a family of the network (ρ₃);
 *   4. fit: the junction-tree model to all of them (one-ways, both measurements of every family
 *      pair, the margins of the other selection tables), Private-PGM style (junction.ts).
 * method 'aim': steps 0-1, then one rule from n̂, ρ and the domain (adaptive.ts chooseModel): the
 *   one-way product, the 2-tree (steps 2-4), or AIM-style adaptive rounds (adaptive.ts fitAdaptive);
 * method 'independent' (the baseline): steps 0 and 1 with the whole ρ; the model is the product
 * of the noisy one-way distributions (projected to non-negative, normalized).
 * Without ρ every query is exact (no noise): the non-private reference of the same synthesizer.
 */
import { epsilonFromRho } from '../../crypto/dp/accountant.ts';
import type { Predicate } from '../query.ts';
import { schemaDigest } from '../schema.ts';
import type { Schema } from '../schema.ts';
import {
  coarsen, emptyRangeBins, fineColumns, pointMassValues, fineToGroup, queryLevelToGroup, refinable, refineEdges, withEdges, type Coarsening, type FineColumn,
} from './discretize.ts';
import { fineWeights, missingWeight, pointZ, projectCounts, rowCounts, type FineWeightOptions } from './weights.ts';
import { fitModel, type Measurement } from './junction.ts';
import { marginalQuery, regroup, type GroupedTable, type Measure, type MeasuredTables } from './marginals.ts';
import { allPairs, pairScore, selectNetwork, type Network } from './select.ts';
import { chooseModel, fitAdaptive, margin, plannedStd, type ModelPlan } from './adaptive.ts';

export const MODEL_FORMAT = 'blindsum-synth-model';
export const MODEL_VERSION = 2;

/** A discretized column (fine values: categorical levels, or numeric bins; "(missing)" last) and its model values. */
export interface ModelColumn extends FineColumn {
  /** Each model value: the fine values it stands for and their probabilities within it; `empty`: no measured mass, never sampled. */
  groups: { fine: number[]; weights: number[]; empty?: boolean }[];
}

export interface BudgetQuery {
  queryId: string;
  purpose: string;
  rhoCharged: number;
  rhoSpent: number;
  contributors: string[];
}

export interface SynthModel {
  format: typeof MODEL_FORMAT;
  version: typeof MODEL_VERSION;
  method: 'mst' | 'aim' | 'independent';
  schema: { name: string; digest: string };
  filter: Predicate[];
  columns: ModelColumn[];
  /** Sampling order (parents first) and each column's parents (at most two, inside one earlier family). */
  order: number[];
  parents: number[][];
  /** cpt[i][parent configuration, row-major over parents[i]][value] (one row for a column without parents). */
  cpt: number[][][];
  budget: {
    /** zCDP ρ charged in all (0 = exact, not differentially private). */
    rho: number;
    epsilon: number | null;
    delta: number;
    exact: boolean;
    queries: BudgetQuery[];
  };
  /** `plan`: which end of the rule was fitted (absent in models of earlier versions: a 2-tree, or the one-way product without cliques of two or more). */
  fit: { estimatedRows: number; iterations: number; loss: number; fineBins: number; maxLevels: number[]; cliques: number[][]; plan?: ModelPlan };
  createdAt: string;
}

export interface SynthOptions {
  /**
   * 'mst' (default): the 2-tree, or the one-way product on small data; 'aim': the same rule with
   * the adaptive model (adaptive.ts) at its rich-data end; 'independent': the baseline.
   */
  method?: 'mst' | 'aim' | 'independent';
  /** Total zCDP ρ (undefined: exact measurements, no differential privacy). */
  rho?: number;
  /** δ at which ε is reported (default 1e-6). */
  delta?: number;
  /** Share of ρ for one-way, select, measure (MST: thirds). */
  split?: [number, number, number];
  /** Fine bins of a numeric column (default 64). */
  fineBins?: number;
  /** Equal-width bins of the range step (default 16; 0 skips it: fine bins equal-width over the schema bounds). */
  rangeBins?: number;
  /** Share of the one-way budget spent on the range step (default 0.25). */
  rangeShare?: number;
  /** Most model values per column (default 12). */
  maxLevels?: number;
  /** Most parents per column: 1 gives MST's tree, 2 (default) a 2-tree of three-way families. */
  maxParents?: 1 | 2;
  /** An outcome column: made a parent of every other column (tree-augmented naive Bayes, select.ts). */
  target?: string;
  filter?: Predicate[];
  iterations?: number;
  /** Progress messages. */
  log?: (message: string) => void;
}

const sum = (xs: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return s;
};

function budgetQuery(m: MeasuredTables, purpose: string): BudgetQuery {
  return { queryId: m.queryId, purpose, rhoCharged: m.rhoCharged, rhoSpent: m.rhoSpent, contributors: [...m.contributors] };
}

/** Runs the measurements through `measure` and fits the model. */
export async function fitSynthesizer(schema: Schema, measure: Measure, opts: SynthOptions = {}): Promise<SynthModel> {
  const method = opts.method ?? 'mst';
  const rho = opts.rho;
  if (rho !== undefined && !(rho > 0)) throw new RangeError(`rho: expected a positive number, got ${rho}`);
  const split = opts.split ?? [0.3, 0.2, 0.5];
  if (split.length !== 3 || split.some((x) => !(x > 0)) || Math.abs(sum(split) - 1) > 1e-9) throw new RangeError(`split: expected three positive shares summing to 1, got [${split.join(', ')}]`);
  const fineBins = opts.fineBins ?? 64;
  const maxLevels = opts.maxLevels ?? 12;
  const filter = opts.filter ?? [];
  const log = opts.log ?? (() => {});
  const cols = fineColumns(schema, fineBins);
  const d = cols.length;
  const names = cols.map((c) => c.name);
  const target = opts.target === undefined ? undefined : names.indexOf(opts.target);
  if (target !== undefined && target < 0) throw new RangeError(`target: no column "${opts.target}" to model (columns: ${names.join(', ')})`);
  // naive Bayes (one parent, the target) needs no selection: its share goes to the measure step
  const selects = !(opts.maxParents === 1 && target !== undefined);
  // the adaptive plan is possible (method 'aim', no target, not naive Bayes); steps 0-1 are the
  // same whichever end of the rule is chosen after them (adaptive.ts splits the rest)
  const adaptive = method === 'aim' && target === undefined && opts.maxParents !== 1;
  const shares = selects ? split : [split[0], 0, split[1] + split[2]];
  const share = (i: number): number | undefined => (rho === undefined ? undefined : method === 'independent' ? rho : rho * shares[i]!);
  const rangeBins = opts.rangeBins ?? 16;
  const rangeShare = opts.rangeShare ?? 0.1;
  if (!(rangeShare >= 0 && rangeShare < 1)) throw new RangeError(`rangeShare: expected a number in [0, 1), got ${rangeShare}`);
  const queries: BudgetQuery[] = [];

  // 0. range: where the data of each numeric column lie, to place the fine bins
  const zoom = rangeBins > 0 && rangeShare > 0 ? cols.map((c, i) => (refinable(c, fineBins) ? i : -1)).filter((i) => i >= 0) : [];
  const part = (x: number | undefined, f: number): number | undefined => (x === undefined ? undefined : x * f);
  let oneWayRho = share(0);
  /** Numeric columns measured by the range step: which fine bins lie where it found nothing. */
  const emptyRange: (boolean[] | undefined)[] = cols.map(() => undefined);
  if (zoom.length > 0) {
    const coarseCols = fineColumns(schema, rangeBins);
    const rangeRho = part(oneWayRho, rangeShare);
    oneWayRho = part(oneWayRho, 1 - rangeShare);
    log(`measuring the range of ${zoom.length} numeric columns${rangeRho === undefined ? ' (exact)' : ` (rho = ${rangeRho.toPrecision(3)})`}`);
    const range = await measure(marginalQuery(zoom.map((i) => names[i]!), zoom.map((i) => coarseCols[i]!.edges!), zoom.map((_, k) => [k]), filter), rangeRho, 'range');
    queries.push(budgetQuery(range, 'range'));
    // fine bins per column: as many as keep about one noise standard deviation of the one-way
    // query per bin on average (n / F ≥ σ₁), between 8 and fineBins
    const sigma1 = plannedStd(d, oneWayRho);
    zoom.forEach((i, k) => {
      const projected = projectCounts(range.tables[k]!).slice(0, -1);
      const present = projected.reduce((a, b) => a + b, 0);
      const bins = sigma1 > 0 ? Math.max(8, Math.min(fineBins, Math.floor(present / sigma1))) : fineBins;
      cols[i] = withEdges(cols[i]!, refineEdges(coarseCols[i]!.edges!, projected, bins, cols[i]!.step));
      emptyRange[i] = emptyRangeBins(cols[i]!.edges!, coarseCols[i]!.edges!, projected);
    });
  }
  const fineEdges = cols.map((c) => c.edges ?? []);

  // 1. one-way marginals at fine resolution
  log(`measuring ${d} one-way marginals${oneWayRho === undefined ? ' (exact)' : ` (rho = ${oneWayRho.toPrecision(3)})`}`);
  const measured = await measure(marginalQuery(names, fineEdges, names.map((_, i) => [i]), filter), oneWayRho, 'one-way');
  queries.push(budgetQuery(measured, 'one-way'));
  // a column the schema declares never missing (missing: 'reject', refused at load) has no
  // missing value: its (missing) cell holds noise only and is taken as 0
  const never = cols.map((c) => schema.columns.find((x) => x.name === c.name)?.missing === 'reject');
  const noMissing = (tables: number[][]): number[][] => tables.map((t, i) => (never[i] ? [...t.slice(0, -1), 0] : t));
  const oneWay = { ...measured, tables: noMissing(measured.tables) };
  const fineVar = oneWay.variance;
  const nHat = Math.max(1, sum(oneWay.tables.map((t) => sum(t))) / d);
  // non-negative fine one-ways with the noisy totals kept (projection, not clipping); (missing)
  // kept when its noisy count is there (fineWeights)
  // the point-mass rule's z for the fit's point-mass bins (their number is fixed by the schema)
  const points = cols.map(pointBins);
  const zPoint = pointZ(points.filter((b) => b?.some(Boolean) === true).length);
  const binRules = (i: number): FineWeightOptions => ({ emptyRange: emptyRange[i], ordered: cols[i]!.type !== 'categorical', fixed: points[i], zPoint });
  const fineP = oneWay.tables.map((t, i) => fineWeights(t, Math.sqrt(fineVar), binRules(i)));
  /** The product of the (projected) noisy one-ways: the independent model. */
  const independent = (tables: number[][], variance: number, as: SynthModel['method'], plan?: ModelPlan): SynthModel => {
    // each column's present bins share its row count (estimated with the other columns' totals) less its missing weight
    const n = rowCounts(tables, variance);
    const sd = Math.sqrt(variance);
    const p = tables.map((t, i) => fineWeights(t, sd, { ...binRules(i), presentTotal: n[i]! - missingWeight(t[t.length - 1]!, sd) }));
    const columns = cols.map((c, i) => modelColumn(c, { queryLevels: c.levels.map((_, f) => [f]), groups: c.levels.map((_, f) => [f]) }, p[i]!));
    const estimatedRows = Math.max(1, sum(tables.map((t) => sum(t))) / d);
    return finish(schema, as, filter, columns, { order: cols.map((_, i) => i), parents: cols.map(() => []) }, p.map((x) => [normalized(x)]), queries, rho, opts.delta, { estimatedRows, iterations: 0, loss: 0, fineBins, maxLevels: cols.map((c) => c.levels.length), cliques: cols.map((_, i) => [i]), ...(plan ? { plan } : {}) });
  };
  if (method === 'independent') return independent(oneWay.tables, fineVar, 'independent');

  // coarse bins and model values: rare values below 3σ merge; a pair table of L² cells keeps
  // about one noise standard deviation of signal per cell: L ≤ √(n / σ_pair)
  const pairs = allPairs(d);
  // (a family's pair is measured twice, in select and in measure: a 2-tree has 2d − 3 of them, a tree d − 1)
  const familyPairCount = Math.max(1, opts.maxParents === 1 ? d - 1 : 2 * d - 3);
  // the one-way step shows the noise the federation actually adds per unit of planned noise
  // (× √(k/t) when k > t parties contribute); the pair steps will see the same
  const noiseScale = rho === undefined || !(fineVar > 0) ? 1 : Math.max(1, Math.sqrt(fineVar) / plannedStd(d, oneWayRho));
  const rule = chooseModel({ nHat, rho, d, maxLevels, noiseScale, split: shares as [number, number, number], selects, familyPairs: familyPairCount, adaptive });
  log(`plan: ${rule.plan} (n̂ ≈ ${Math.round(nHat)}, ${d} columns, ${Number.isFinite(rule.levels) ? rule.levels : 'any number of'} values per column supported)`);
  if (rule.plan === 'one-way' && rho !== undefined) {
    // too few rows for the noise of the pair tables (below 4 × 4 cells of one σ each): the rest
    // of the budget measures the one-ways again, and the model is their product
    const restRho = rho * (shares[1]! + shares[2]!);
    log(`too few rows (about ${Math.round(nHat)}) for two-way tables at this budget: measuring the one-way marginals again (rho = ${restRho.toPrecision(3)}); the model is their product`);
    const again = await measure(marginalQuery(names, fineEdges, names.map((_, i) => [i]), filter), restRho, 'one-way-again');
    queries.push(budgetQuery(again, 'one-way-again'));
    const [w1, w2] = [1 / oneWay.variance, 1 / again.variance];
    const againTables = noMissing(again.tables);
    return independent(oneWay.tables.map((t, i) => t.map((x, f) => (w1 * x + w2 * againTables[i]![f]!) / (w1 + w2))), 1 / (w1 + w2), method === 'aim' ? 'aim' : 'mst', 'one-way');
  }
  const levelCap = Math.max(2, Math.min(maxLevels, rule.levels));
  const rare = 3 * Math.sqrt(fineVar);
  const coarse: Coarsening[] = cols.map((c, i) => coarsen(c, c.type === 'categorical' ? oneWay.tables[i]! : [...fineP[i]!.slice(0, -1), Math.max(0, oneWay.tables[i]![c.levels.length - 1]!)], { rareCount: rare, maxLevels: levelCap }));
  const groupSizes = coarse.map((c) => c.groups.length);
  const qlSizes = coarse.map((c) => c.queryLevels.length);
  const qlToGroup = coarse.map((c) => queryLevelToGroup(c));
  const fineToG = coarse.map((c, i) => fineToGroup(c, cols[i]!.levels.length));
  const fineSizes = cols.map((c) => c.levels.length);
  const oneWayGrouped = oneWay.tables.map((t, i) => regroup(t, fineVar, [i], fineSizes, fineToG, groupSizes));
  log(`model values per column: ${groupSizes.join(', ')} (at most ${levelCap})`);

  const coarseEdges = coarse.map((c) => c.edges ?? []);
  if (rule.plan === 'aim') {
    const ad = await fitAdaptive({
      names, edges: coarseEdges, filter, measure, levelSizes: qlSizes, levelToGroup: qlToGroup, sizes: groupSizes, oneWay: oneWayGrouped, nHat,
      rho: rho === undefined ? undefined : rho * (1 - shares[0]!), log, ...(opts.iterations !== undefined ? { iterations: opts.iterations } : {}),
    });
    for (const q of ad.queries) queries.push(budgetQuery(q.tables, q.purpose));
    log(`fit: ${ad.fit.iterations} mirror-descent iterations, weighted loss ${ad.fit.loss.toPrecision(4)}, estimated rows ${ad.fit.total.toFixed(1)}`);
    const columns = cols.map((c, i) => modelColumn(c, coarse[i]!, fineP[i]!));
    return finish(schema, 'aim', filter, columns, ad.network, dropEmptyValues(ad.fit.cpt, columns), queries, rho, opts.delta, { estimatedRows: ad.fit.total, iterations: ad.fit.iterations, loss: ad.fit.loss, fineBins, maxLevels: groupSizes, cliques: ad.fit.cliques, plan: 'aim' });
  }
  // 2. selection: every pair at the model's resolution
  const score: number[][] = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  let selGrouped: GroupedTable[] = [];
  if (selects) {
    log(`measuring ${pairs.length} two-way marginals for selection${rho === undefined ? ' (exact)' : ` (rho = ${share(1)!.toPrecision(3)})`}`);
    const sel = await measure(marginalQuery(names, coarseEdges, pairs, filter), share(1), 'select');
    queries.push(budgetQuery(sel, 'select'));
    selGrouped = sel.tables.map((t, k) => regroup(t, sel.variance, pairs[k]!, qlSizes, qlToGroup, groupSizes));
    const oneWayP = oneWayGrouped.map((g) => Float64Array.from(normalized(Array.from(g.counts, (x) => Math.max(0, x)))));
    pairs.forEach(([a, b], k) => (score[a]![b] = score[b]![a] = pairScore(selGrouped[k]!, [oneWayP[a]!, oneWayP[b]!], nHat)));
  }
  const net = selectNetwork(score, { maxParents: opts.maxParents ?? 2, ...(target !== undefined ? { target } : {}) });
  log(`network: ${net.order.map((v) => `${names[v]}${net.parents[v]!.length ? ` ← ${net.parents[v]!.map((p) => names[p]).join(' + ')}` : ''}`).join('; ')}`);

  // 3. measure every pair inside a family of the network (2d − 3 pairs for a 2-tree, d − 1 for a tree)
  const familyPairs: [number, number][] = [];
  for (const v of net.order) {
    const f = [...net.parents[v]!, v].sort((x, y) => x - y);
    for (let i = 0; i < f.length; i++) for (let j = i + 1; j < f.length; j++) if (!familyPairs.some(([a, b]) => a === f[i] && b === f[j])) familyPairs.push([f[i]!, f[j]!]);
  }
  const measurements: Measurement[] = oneWayGrouped.map((g) => ({ columns: g.columns, counts: g.counts, variance: g.variance }));
  if (familyPairs.length > 0) {
    log(`measuring the network's ${familyPairs.length} pairs${rho === undefined ? ' (exact)' : ` (rho = ${share(2)!.toPrecision(3)})`}`);
    const meas = await measure(marginalQuery(names, coarseEdges, familyPairs, filter), share(2), 'measure');
    queries.push(budgetQuery(meas, 'measure'));
    familyPairs.forEach((f, k) => {
      const g = regroup(meas.tables[k]!, meas.variance, f, qlSizes, qlToGroup, groupSizes);
      measurements.push({ columns: g.columns, counts: g.counts, variance: g.variance });
    });
  }
  // every selection table: in full when a family holds its pair, else its two one-ways
  selGrouped.forEach((s, k) => {
    const [a, b] = pairs[k]!;
    if (familyPairs.some(([x, y]) => x === a && y === b)) measurements.push({ columns: s.columns, counts: s.counts, variance: s.variance });
    else for (const axis of [0, 1] as const) measurements.push(margin(s, axis));
  });

  // 4. fit
  const fit = fitModel(groupSizes, net.parents, net.order, measurements, opts.iterations !== undefined ? { iterations: opts.iterations } : {});
  log(`fit: ${fit.iterations} mirror-descent iterations, weighted loss ${fit.loss.toPrecision(4)}, estimated rows ${fit.total.toFixed(1)}`);
  const columns = cols.map((c, i) => modelColumn(c, coarse[i]!, fineP[i]!));
  return finish(schema, method === 'aim' ? 'aim' : 'mst', filter, columns, net, dropEmptyValues(fit.cpt, columns), queries, rho, opts.delta, { estimatedRows: fit.total, iterations: fit.iterations, loss: fit.loss, fineBins, maxLevels: groupSizes, cliques: fit.cliques, plan: '2-tree' });
}

/** For each fine bin of a numeric column: does it hold a point mass (pointMassValues)? */
function pointBins(c: FineColumn): boolean[] | undefined {
  if (!c.edges) return undefined;
  const pm = pointMassValues(c.min!, c.max!);
  return c.edges.slice(0, -1).map((lo, j) => pm.some((v) => lo <= v && v < c.edges![j + 1]!));
}

function normalized(xs: number[]): number[] {
  const z = sum(xs);
  return z > 0 ? xs.map((x) => x / z) : xs.map(() => 1 / xs.length);
}

/**
 * A model column: each group's fine values, weighted by their sampling weights (`fineWeights`:
 * projected noisy one-way counts; a `(missing)` with its noisy count when that is at least 1σ, so
 * a rare `(missing)` merged into a larger model value keeps its noisy share there). A group whose
 * weights are all 0 gets `empty: true` (and uniform weights): no record is drawn from it
 * (`dropEmptyValues`).
 */
export function modelColumn(c: FineColumn, coarse: Coarsening, fineWeights: number[]): ModelColumn {
  const groups = coarse.groups.map((g) => {
    const fine = g.flatMap((ql) => coarse.queryLevels[ql]!).sort((a, b) => a - b);
    const w = fine.map((f) => Math.max(0, fineWeights[f]!));
    return w.some((x) => x > 0) ? { fine, weights: normalized(w) } : { fine, weights: normalized(w), empty: true };
  });
  const out: ModelColumn = { name: c.name, type: c.type, levels: [...c.levels], groups };
  if (c.edges) {
    out.edges = [...c.edges];
    out.min = c.min!;
    out.max = c.max!;
    if (c.step !== undefined) out.step = c.step;
  }
  return out;
}

/**
 * Conditional tables with no probability on model values whose fine values all have weight 0
 * (e.g. `(missing)` of a column without missing values, a category never seen): the fit leaves
 * small positive probabilities on cells measured as 0 (mirror descent does not reach 0), which
 * would invent values the one-way measurement does not support. Rows renormalized; a row left
 * with nothing keeps its old values. Post-processing.
 */
export function dropEmptyValues(cpt: number[][][], columns: ModelColumn[]): number[][][] {
  return cpt.map((rows, i) => {
    const empty = columns[i]!.groups.map((g) => g.empty === true);
    if (!empty.some((e) => e)) return rows;
    return rows.map((p) => {
      const kept = p.map((x, v) => (empty[v] ? 0 : x));
      const z = sum(kept);
      return z > 0 ? kept.map((x) => x / z) : p;
    });
  });
}

function finish(
  schema: Schema, method: SynthModel['method'], filter: Predicate[], columns: ModelColumn[], net: Network,
  cpt: number[][][], queries: BudgetQuery[], rho: number | undefined, delta: number | undefined, fit: SynthModel['fit'],
): SynthModel {
  const charged = queries.reduce((a, q) => a + q.rhoCharged, 0);
  const dlt = delta ?? 1e-6;
  return {
    format: MODEL_FORMAT, version: MODEL_VERSION, method, schema: { name: schema.name, digest: schemaDigest(schema) }, filter,
    columns, order: net.order, parents: net.parents, cpt,
    budget: { rho: charged, epsilon: rho === undefined ? null : epsilonFromRho(charged, dlt), delta: dlt, exact: rho === undefined, queries },
    fit, createdAt: new Date().toISOString(),
  };
}
