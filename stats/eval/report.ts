/**
 * The synthetic-data evaluation report (JSON; html.ts renders it): every synthetic dataset —
 * the DP synthesizer's and the baselines' — measured the same way against the real training
 * data and a real holdout. Fidelity: per-column TVD (all columns, on evaluation bins) and KS
 * (numeric columns, present values), average two-way TVD over all pairs, correlation-matrix
 * difference. Utility: a logistic-regression classifier of a chosen outcome trained on the
 * synthetic data and on the real training data, both tested on the holdout (TSTR vs TRTR AUC).
 * Privacy: DCR, NNDR and membership-inference AUC (privacy-metrics.ts).
 */
import { sha256 } from '../../crypto/sha256.ts';
import { seededRandomSource } from '../../crypto/dp/random.ts';
import { utf8 } from '../../crypto/bytes.ts';
import type { Dataset } from '../dataset.ts';
import type { Schema } from '../schema.ts';
import { binRows, countBins, dataColumns, featureEncoder, gowerRows, gowerScales, makeBinners, outcomeLabels } from './encode.ts';
import { fitLogistic, logisticScores } from './logistic.ts';
import { auc, ksStatistic, pearson, tvd } from './metrics.ts';
import { privacyScores, type PrivacyScores } from './privacy-metrics.ts';

export const REPORT_FORMAT = 'blindsum-synth-report';

export interface SyntheticInput {
  /** Short name, e.g. "mst", "independent", "central-exact". */
  name: string;
  label: string;
  data: Dataset;
  /** What produced it (method, ε, δ, ρ, …), copied into the report. */
  info?: Record<string, unknown>;
}

export interface Outcome {
  column: string;
  positive: string;
  /** Columns left out of the classifier's features (e.g. ones that leak the outcome). */
  exclude?: string[];
}

export interface MethodReport {
  name: string;
  label: string;
  info: Record<string, unknown>;
  rows: number;
  fidelity: {
    columns: { name: string; numeric: boolean; tvd: number; ks: number | null }[];
    /** SDMetrics column shapes: mean of KSComplement (numeric) and TVComplement (categorical). */
    columnShapes: number;
    meanColumnTvd: number;
    meanKs: number | null;
    pairTvdMean: number;
    pairTvdMax: number;
    correlation: { meanAbsDiff: number | null; maxAbsDiff: number | null; matrix: (number | null)[][] };
  };
  utility: { tstrAuc: number; trtrAuc: number; aucGap: number } | null;
  privacy: Omit<PrivacyScores, 'dcrTrain' | 'dcrHoldout'> & { dcrTrain: number[]; dcrHoldout: number[] };
}

export interface SynthReport {
  format: typeof REPORT_FORMAT;
  version: 1;
  schema: string;
  trainRows: number;
  holdoutRows: number;
  outcome: Outcome | null;
  numericColumns: string[];
  realCorrelation: (number | null)[][];
  methods: MethodReport[];
  createdAt: string;
}

function correlationMatrix(d: Dataset, cols: string[]): (number | null)[][] {
  const v = cols.map((c) => (d.columns.get(c) as { values: Float64Array }).values);
  return cols.map((_, i) => cols.map((__, j) => (i === j ? 1 : pearson(v[i]!, v[j]!))));
}

function trainAuc(schema: Schema, trainOn: Dataset, test: Dataset, realTrain: Dataset, outcome: Outcome): number {
  const enc = featureEncoder(schema, realTrain, [outcome.column, ...(outcome.exclude ?? [])]);
  const y = outcomeLabels(trainOn, outcome.column, outcome.positive);
  const yTest = outcomeLabels(test, outcome.column, outcome.positive);
  if (y.every((v) => v === y[0])) return 0.5; // one class only: the classifier cannot rank
  const m = fitLogistic(enc.encode(trainOn), y);
  return auc(logisticScores(m, enc.encode(test)), yTest);
}

export interface EvaluateOptions {
  outcome?: Outcome;
  /** Seed of the subsamples of the privacy scores (default "report"). */
  seed?: string;
  maxSyntheticForDcr?: number;
}

/** Evaluates each synthetic dataset against real training data and a real holdout. */
export function evaluate(schema: Schema, train: Dataset, holdout: Dataset, synthetic: SyntheticInput[], opts: EvaluateOptions = {}): SynthReport {
  const cols = dataColumns(schema);
  const binners = makeBinners(schema, train);
  const realBins = binners.map((b) => binRows(b, train));
  const numericColumns = cols.filter((c) => c.numeric).map((c) => c.name);
  const realCorr = correlationMatrix(train, numericColumns);
  const scales = gowerScales(schema, train);
  const gTrain = gowerRows(schema, train, scales);
  const gHoldout = gowerRows(schema, holdout, scales);
  const trtr = opts.outcome ? trainAuc(schema, train, holdout, train, opts.outcome) : NaN;
  const methods = synthetic.map((s): MethodReport => {
    const bins = binners.map((b) => binRows(b, s.data));
    const columns = cols.map((c, i) => ({
      name: c.name, numeric: c.numeric,
      tvd: tvd(countBins(realBins[i]!, binners[i]!.size), countBins(bins[i]!, binners[i]!.size)),
      ks: c.numeric ? ksStatistic((train.columns.get(c.name) as { values: Float64Array }).values, (s.data.columns.get(c.name) as { values: Float64Array }).values) : null,
    }));
    const pairTvds: number[] = [];
    for (let i = 0; i < cols.length; i++) {
      for (let j = i + 1; j < cols.length; j++) {
        const w = binners[j]!.size;
        const size = binners[i]!.size * w;
        const joint = (b: Int32Array[]): Float64Array => {
          const out = new Float64Array(size);
          for (let r = 0; r < b[i]!.length; r++) out[b[i]![r]! * w + b[j]![r]!]++;
          return out;
        };
        pairTvds.push(tvd(joint(realBins), joint(bins)));
      }
    }
    const corr = correlationMatrix(s.data, numericColumns);
    const diffs: number[] = [];
    const matrix = realCorr.map((row, i) => row.map((r, j) => {
      const c = corr[i]![j]!;
      if (r === null || c === null) return null;
      if (i < j) diffs.push(Math.abs(r - c));
      return c - r;
    }));
    const shapes = columns.map((c) => 1 - (c.ks ?? c.tvd));
    const ks = columns.filter((c) => c.ks !== null).map((c) => c.ks!);
    const rng = seededRandomSource(sha256(utf8(`blindsum/synth/report/v1|${opts.seed ?? 'report'}|${s.name}`)));
    const privacy = privacyScores(gTrain, gHoldout, gowerRows(schema, s.data, scales), rng, opts.maxSyntheticForDcr ?? 1000);
    const tstr = opts.outcome ? trainAuc(schema, s.data, holdout, train, opts.outcome) : NaN;
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    return {
      name: s.name, label: s.label, info: s.info ?? {}, rows: s.data.rowCount,
      fidelity: {
        columns, columnShapes: mean(shapes), meanColumnTvd: mean(columns.map((c) => c.tvd)), meanKs: ks.length ? mean(ks) : null,
        pairTvdMean: pairTvds.length ? mean(pairTvds) : 0, pairTvdMax: pairTvds.length ? Math.max(...pairTvds) : 0,
        correlation: { meanAbsDiff: diffs.length ? mean(diffs) : null, maxAbsDiff: diffs.length ? Math.max(...diffs) : null, matrix },
      },
      utility: opts.outcome ? { tstrAuc: tstr, trtrAuc: trtr, aucGap: trtr - tstr } : null,
      privacy,
    };
  });
  return {
    format: REPORT_FORMAT, version: 1, schema: schema.name, trainRows: train.rowCount, holdoutRows: holdout.rowCount,
    outcome: opts.outcome ?? null, numericColumns, realCorrelation: realCorr, methods, createdAt: new Date().toISOString(),
  };
}

/** Headline numbers of one method, one line. */
export function headline(m: MethodReport): string {
  const f = (x: number | null | undefined, d = 3): string => (x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(d));
  return `${m.label}: 2-way TVD ${f(m.fidelity.pairTvdMean)}, column TVD ${f(m.fidelity.meanColumnTvd)}, KS ${f(m.fidelity.meanKs)}, |Δcorr| ${f(m.fidelity.correlation.meanAbsDiff)}` +
    (m.utility ? `, TSTR AUC ${f(m.utility.tstrAuc)} (real ${f(m.utility.trtrAuc)})` : '') +
    `, DCR share ${f(m.privacy.closerToTrainShare, 2)}, MIA AUC ${f(m.privacy.membershipInferenceAuc)}`;
}
