/**
 * One synthetic dataset measured against the real training data and holdout (report.ts runs it
 * for every dataset and every repeated fit): per-column quality and plot counts, pair trends,
 * validity checks, the classifier (TSTR with bootstrap intervals) and the privacy scores.
 */
import { sha256 } from '../../crypto/sha256.ts';
import { seededRandomSource } from '../../crypto/dp/random.ts';
import { utf8 } from '../../crypto/bytes.ts';
import type { Dataset } from '../dataset.ts';
import type { Schema } from '../schema.ts';
import { bootstrapAuc } from './bootstrap.ts';
import { columnChecks, constraintChecks, type ColumnCheck, type ConstraintCheck } from './checks.ts';
import { binRows, countBins, dataColumns, featureEncoder, gowerRows, gowerScales, makeBinners, outcomeLabels, plotBins, type Binner, type ColumnRef, type GowerRows, type PlotBins } from './encode.ts';
import { fitLogistic, logisticScores } from './logistic.ts';
import { auc, ksStatistic, pearson, tvd } from './metrics.ts';
import { pairTrends, type PairTrend } from './pairs.ts';
import { privacyScores, type PrivacyScores } from './privacy-metrics.ts';
import { evaluationTriples, tripleCounts, tripleTvds } from './triples.ts';
import type { Criterion } from './verdict.ts';

export interface Outcome {
  column: string;
  positive: string;
  /** Columns left out of the classifier's features (e.g. ones that leak the outcome). */
  exclude?: string[];
}

export interface ColumnFidelity {
  name: string;
  numeric: boolean;
  tvd: number;
  ks: number | null;
  /** KSComplement (numeric) or TVComplement (categorical). */
  quality: number;
  /** Synthetic shares on the column's plot bins (SynthReport.columns[i].plotLabels). */
  plot: number[];
}

export interface MethodCore {
  rows: number;
  fidelity: {
    columns: ColumnFidelity[];
    /** SDMetrics column shapes: mean of KSComplement (numeric) and TVComplement (categorical). */
    columnShapes: number;
    meanColumnTvd: number;
    meanKs: number | null;
    pairTvdMean: number;
    pairTvdMax: number;
    /** Mean and max TVD of three-column joint tables on the evaluation bins (null with fewer than 3 columns); over `triples` of them (all, or a seeded sample: triples.ts). */
    tripleTvdMean: number | null;
    tripleTvdMax: number | null;
    triples: number;
    /** SDMetrics column pair trends: mean pair score. */
    pairTrends: number;
    pairs: PairTrend[];
    correlation: { meanAbsDiff: number | null; maxAbsDiff: number | null; matrix: (number | null)[][] };
  };
  checks: { columns: ColumnCheck[]; constraints: ConstraintCheck[] };
  utility: { tstrAuc: number; trtrAuc: number; aucGap: number; tstrCi: [number, number]; trtrCi: [number, number]; gapCi: [number, number]; bootstrap: number } | null;
  privacy: PrivacyScores;
  criteria: Record<Criterion, number | null>;
}

export interface Context {
  schema: Schema;
  train: Dataset;
  holdout: Dataset;
  cols: ColumnRef[];
  binners: Binner[];
  realBins: Int32Array[];
  /** Column triples of the 3-way TVD and the real data's joint table of each. */
  triples: [number, number, number][];
  realTriples: Float64Array[];
  plots: PlotBins[];
  realPlots: number[][];
  numericColumns: string[];
  realCorr: (number | null)[][];
  scales: number[];
  gTrain: GowerRows;
  gHoldout: GowerRows;
  outcome?: Outcome;
  trtr?: { auc: number; scores: Float64Array; yTest: Uint8Array };
  seed: string;
  maxSyntheticForDcr: number;
  bootstrap: number;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

export function correlationMatrix(d: Dataset, cols: string[]): (number | null)[][] {
  const v = cols.map((c) => (d.columns.get(c) as { values: Float64Array }).values);
  return cols.map((_, i) => cols.map((__, j) => (i === j ? 1 : pearson(v[i]!, v[j]!))));
}

function classifierScores(schema: Schema, trainOn: Dataset, test: Dataset, realTrain: Dataset, outcome: Outcome): Float64Array | null {
  const enc = featureEncoder(schema, realTrain, [outcome.column, ...(outcome.exclude ?? [])]);
  const y = outcomeLabels(trainOn, outcome.column, outcome.positive);
  if (y.every((v) => v === y[0])) return null; // one class only: the classifier cannot rank
  return logisticScores(fitLogistic(enc.encode(trainOn), y), enc.encode(test));
}

const shares = (codes: Int32Array, size: number): number[] => {
  const c = countBins(codes, size);
  return Array.from(c, (x) => (codes.length ? x / codes.length : 0));
};

export function makeContext(schema: Schema, train: Dataset, holdout: Dataset, opts: { outcome?: Outcome; seed?: string; maxSyntheticForDcr?: number; bootstrap?: number }): Context {
  const cols = dataColumns(schema);
  const binners = makeBinners(schema, train);
  const plots = cols.map((c) => plotBins(c, train));
  const numericColumns = cols.filter((c) => c.numeric).map((c) => c.name);
  const scales = gowerScales(schema, train);
  const realBins = binners.map((b) => binRows(b, train));
  const triples = evaluationTriples(cols.length);
  const ctx: Context = {
    schema, train, holdout, cols, binners, realBins, triples, realTriples: triples.map((t) => tripleCounts(realBins, binners, t)), plots,
    realPlots: plots.map((p) => shares(p.code(train), p.labels.length)), numericColumns, realCorr: correlationMatrix(train, numericColumns),
    scales, gTrain: gowerRows(schema, train, scales), gHoldout: gowerRows(schema, holdout, scales),
    seed: opts.seed ?? 'report', maxSyntheticForDcr: opts.maxSyntheticForDcr ?? 1000, bootstrap: opts.bootstrap ?? 500,
  };
  if (opts.outcome) {
    ctx.outcome = opts.outcome;
    const yTest = outcomeLabels(holdout, opts.outcome.column, opts.outcome.positive);
    const scores = classifierScores(schema, train, holdout, train, opts.outcome) ?? new Float64Array(holdout.rowCount);
    ctx.trtr = { auc: auc(scores, yTest), scores, yTest };
  }
  return ctx;
}

/** Measures one synthetic dataset; `tag` seeds its subsamples (name and fit number). */
export function evaluateOne(ctx: Context, data: Dataset, tag: string): MethodCore {
  const { cols, binners, realBins, train } = ctx;
  const bins = binners.map((b) => binRows(b, data));
  const columns = cols.map((c, i): ColumnFidelity => {
    const t = tvd(countBins(realBins[i]!, binners[i]!.size), countBins(bins[i]!, binners[i]!.size));
    const ks = c.numeric ? ksStatistic((train.columns.get(c.name) as { values: Float64Array }).values, (data.columns.get(c.name) as { values: Float64Array }).values) : null;
    const p = ctx.plots[i]!;
    return { name: c.name, numeric: c.numeric, tvd: t, ks, quality: 1 - (ks ?? t), plot: shares(p.code(data), p.labels.length) };
  });
  const pairs = pairTrends(train, data, cols, binners, realBins, bins);
  const corr = correlationMatrix(data, ctx.numericColumns);
  const diffs: number[] = [];
  const matrix = ctx.realCorr.map((row, i) => row.map((r, j) => {
    const c = corr[i]![j]!;
    if (r === null || c === null) return null;
    if (i < j) diffs.push(Math.abs(r - c));
    return c - r;
  }));
  const ks = columns.filter((c) => c.ks !== null).map((c) => c.ks!);
  const rng = seededRandomSource(sha256(utf8(`blindsum/synth/report/v1|${ctx.seed}|${tag}`)));
  const privacy = privacyScores(ctx.gTrain, ctx.gHoldout, gowerRows(ctx.schema, data, ctx.scales), rng, ctx.maxSyntheticForDcr);
  let utility: MethodCore['utility'] = null;
  if (ctx.outcome && ctx.trtr) {
    const scores = classifierScores(ctx.schema, data, ctx.holdout, train, ctx.outcome);
    const tstr = scores ? auc(scores, ctx.trtr.yTest) : 0.5;
    const ci = bootstrapAuc([ctx.trtr.scores, scores ?? new Float64Array(ctx.holdout.rowCount)], ctx.trtr.yTest, rng, ctx.bootstrap);
    utility = { tstrAuc: tstr, trtrAuc: ctx.trtr.auc, aucGap: ctx.trtr.auc - tstr, tstrCi: ci.auc[1]!, trtrCi: ci.auc[0]!, gapCi: ci.difference[1]!, bootstrap: ci.replicates };
  }
  const checks = { columns: columnChecks(ctx.schema, train, data), constraints: constraintChecks(ctx.schema, train, data) };
  const pairTvds = pairs.map((p) => p.tvd);
  const tripleTvd = tripleTvds(ctx.realTriples, bins, binners, ctx.triples);
  const fidelity: MethodCore['fidelity'] = {
    columns, columnShapes: mean(columns.map((c) => c.quality)), meanColumnTvd: mean(columns.map((c) => c.tvd)), meanKs: ks.length ? mean(ks) : null,
    pairTvdMean: pairTvds.length ? mean(pairTvds) : 0, pairTvdMax: pairTvds.length ? Math.max(...pairTvds) : 0,
    tripleTvdMean: tripleTvd.length ? mean(tripleTvd) : null, tripleTvdMax: tripleTvd.length ? Math.max(...tripleTvd) : null, triples: tripleTvd.length,
    pairTrends: pairs.length ? mean(pairs.map((p) => p.score)) : 1, pairs,
    correlation: { meanAbsDiff: diffs.length ? mean(diffs) : null, maxAbsDiff: diffs.length ? Math.max(...diffs) : null, matrix },
  };
  const num = checks.columns.filter((c) => c.numeric);
  const cat = checks.columns.filter((c) => !c.numeric);
  const cons = checks.constraints.filter((c) => c.syntheticShare !== null).map((c) => c.syntheticShare!);
  const criteria: Record<Criterion, number | null> = {
    columnShapes: fidelity.columnShapes,
    pairTrends: pairs.length ? fidelity.pairTrends : null,
    boundaryAdherence: num.length ? Math.min(...num.map((c) => c.adherence)) : null,
    categoryAdherence: cat.length ? Math.min(...cat.map((c) => c.adherence)) : null,
    missingRateError: Math.max(...checks.columns.map((c) => Math.abs(c.missingSynthetic - c.missingReal))),
    constraintViolations: cons.length ? Math.max(...cons) : null,
    copiesBeyondChance: privacy.exactCopiesTrainSample - privacy.exactCopiesHoldout,
    tstrGap: utility ? utility.aucGap : null,
    dcrCloserToTrain: privacy.closerToTrainShare,
    membershipInferenceAuc: privacy.membershipInferenceAuc,
  };
  return { rows: data.rowCount, fidelity, checks, utility, privacy, criteria };
}
