/**
 * The synthetic-data evaluation report (JSON; html.ts renders it): every synthetic dataset —
 * the DP synthesizer's and the baselines' — measured the same way against the real training
 * data and a real holdout (method-eval.ts), with a verdict per dataset against the steward's
 * thresholds (verdict.ts). Fidelity: per-column quality (KSComplement / TVComplement) and
 * real-vs-synthetic shares for plots, pair trends for every pair (pairs.ts), two-way TVD,
 * correlation difference. Validity: range, category, missing-rate and constraint checks
 * (checks.ts). Utility: logistic regression of an outcome trained on synthetic (TSTR) and real
 * (TRTR) data, AUC on the holdout with bootstrap intervals. Privacy: DCR, NNDR, exact copies
 * with their holdout baseline and membership inference, all against a holdout-sized training
 * sample (privacy-metrics.ts). Repeated fits (`replicates`) give mean ± sd of every headline.
 */
import type { Dataset } from '../dataset.ts';
import type { Schema } from '../schema.ts';
import { evaluateOne, makeContext, type MethodCore, type Outcome } from './method-eval.ts';
import { pairMatrix } from './pairs.ts';
import { CRITERIA, DEFAULT_THRESHOLDS, verdict, type Criterion, type Threshold, type Verdict } from './verdict.ts';

export type { Outcome } from './method-eval.ts';
export const REPORT_FORMAT = 'blindsum-synth-report';

export interface SyntheticInput {
  /** Short name, e.g. "mst", "independent", "central-exact". */
  name: string;
  label: string;
  data: Dataset;
  /** Further samples of the same synthesizer (repeated fits, or repeated samples): mean ± sd. */
  replicates?: Dataset[];
  /** Rows of the synthetic file the schema refused when loading (invalid, or outside the schema bounds); shown in the checks. */
  rejectedRows?: number;
  /** What produced it (method, ε, δ, ρ, structure, …), copied into the report. */
  info?: Record<string, unknown>;
}

export interface Spread {
  mean: number;
  sd: number;
  values: number[];
}

export interface MethodReport extends MethodCore {
  name: string;
  label: string;
  info: Record<string, unknown>;
  /** Rows of the (first) synthetic file refused at load: invalid or outside the schema bounds (null: not given). */
  rejectedRows: number | null;
  /** Over all fits (the first and the replicates) when there are several; null with one fit. */
  repeats: { fits: number; metrics: Record<string, Spread> } | null;
  verdict: Verdict;
}

export interface SynthReport {
  format: typeof REPORT_FORMAT;
  version: 2;
  schema: string;
  trainRows: number;
  holdoutRows: number;
  outcome: Outcome | null;
  /** Each data column: its plot bins and the real data's shares on them. */
  columns: { name: string; numeric: boolean; plotLabels: string[]; real: number[] }[];
  numericColumns: string[];
  realCorrelation: (number | null)[][];
  /** Every pair's real association (Pearson, Cramér's V or correlation ratio), over `columns`. */
  realAssociation: (number | null)[][];
  thresholds: Record<Criterion, Threshold>;
  where: string | null;
  methods: MethodReport[];
  createdAt: string;
}

export interface EvaluateOptions {
  outcome?: Outcome;
  /** Seed of the subsamples of the privacy scores and bootstraps (default "report"). */
  seed?: string;
  maxSyntheticForDcr?: number;
  /** Bootstrap replicates of the AUC intervals (default 500). */
  bootstrap?: number;
  thresholds?: Record<Criterion, Threshold>;
  /** Where the real rows were and who ran the evaluation (e.g. a party site's operator), printed in the report. */
  where?: string;
}

/** The scalar metrics summarized over repeated fits. */
const SCALARS: Record<string, (m: MethodCore) => number | null | undefined> = {
  pairTvdMean: (m) => m.fidelity.pairTvdMean,
  tripleTvdMean: (m) => m.fidelity.tripleTvdMean,
  meanColumnTvd: (m) => m.fidelity.meanColumnTvd,
  meanKs: (m) => m.fidelity.meanKs,
  corrMeanAbsDiff: (m) => m.fidelity.correlation.meanAbsDiff,
  tstrAuc: (m) => m.utility?.tstrAuc,
  nndrMedian: (m) => m.privacy.nndrMedian,
  exactCopies: (m) => m.privacy.exactCopies,
  ...Object.fromEntries((Object.keys(CRITERIA) as Criterion[]).map((c) => [c, (m: MethodCore) => m.criteria[c]])),
};

function spread(xs: number[]): Spread {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd, values: xs };
}

/** Evaluates each synthetic dataset (and its replicates) against real training data and a real holdout. */
export function evaluate(schema: Schema, train: Dataset, holdout: Dataset, synthetic: SyntheticInput[], opts: EvaluateOptions = {}): SynthReport {
  const ctx = makeContext(schema, train, holdout, opts);
  const thresholds = opts.thresholds ?? DEFAULT_THRESHOLDS;
  const methods = synthetic.map((s): MethodReport => {
    const fits = [s.data, ...(s.replicates ?? [])].map((d, k) => evaluateOne(ctx, d, k === 0 ? s.name : `${s.name}#${k + 1}`));
    const first = fits[0]!;
    let repeats: MethodReport['repeats'] = null;
    let criteria = first.criteria;
    const sds: Partial<Record<Criterion, number>> = {};
    if (fits.length > 1) {
      const metrics: Record<string, Spread> = {};
      for (const [k, get] of Object.entries(SCALARS)) {
        const xs = fits.map(get).filter((x): x is number => typeof x === 'number' && !Number.isNaN(x));
        if (xs.length === fits.length) metrics[k] = spread(xs);
      }
      repeats = { fits: fits.length, metrics };
      criteria = { ...criteria };
      for (const c of Object.keys(CRITERIA) as Criterion[]) {
        criteria[c] = metrics[c]?.mean ?? null;
        if (metrics[c]) sds[c] = metrics[c].sd;
      }
    }
    return { name: s.name, label: s.label, info: s.info ?? {}, rejectedRows: s.rejectedRows ?? null, ...first, criteria, repeats, verdict: verdict(criteria, thresholds, sds) };
  });
  const names = ctx.cols.map((c) => c.name);
  // the real association of every pair: the pair list of any method carries it (same real data)
  const realPairs = methods[0]?.fidelity.pairs ?? [];
  return {
    format: REPORT_FORMAT, version: 2, schema: schema.name, trainRows: train.rowCount, holdoutRows: holdout.rowCount,
    outcome: opts.outcome ?? null,
    columns: ctx.cols.map((c, i) => ({ name: c.name, numeric: c.numeric, plotLabels: ctx.plots[i]!.labels, real: ctx.realPlots[i]! })),
    numericColumns: ctx.numericColumns, realCorrelation: ctx.realCorr, realAssociation: pairMatrix(names, realPairs, (p) => p.real, 1),
    thresholds, where: opts.where ?? null, methods, createdAt: new Date().toISOString(),
  };
}

/** Headline numbers of one method, one line. */
export function headline(m: MethodReport): string {
  const f = (x: number | null | undefined, d = 3): string => (x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(d));
  return `${m.label}: verdict ${m.verdict.overall.toUpperCase()}; 2-way TVD ${f(m.fidelity.pairTvdMean)}, column shapes ${f(m.fidelity.columnShapes)}, pair trends ${f(m.fidelity.pairTrends)}, |Δcorr| ${f(m.fidelity.correlation.meanAbsDiff)}` +
    (m.utility ? `, TSTR AUC ${f(m.utility.tstrAuc)} [${f(m.utility.tstrCi[0])}, ${f(m.utility.tstrCi[1])}] (real ${f(m.utility.trtrAuc)})` : '') +
    `, DCR share ${f(m.privacy.closerToTrainShare, 2)}, copies ${f(m.privacy.exactCopiesTrainSample, 4)} (holdout baseline ${f(m.privacy.exactCopiesHoldout, 4)}), MIA AUC ${f(m.privacy.membershipInferenceAuc)}` +
    (m.repeats ? ` (first of ${m.repeats.fits} fits; verdict on their means)` : '');
}
