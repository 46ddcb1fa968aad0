/**
 * The one definition per query kind, shared by every backend: the statistic vector's layout
 * (known before any data is read), each row's contribution to it, and the post-processing of
 * the aggregated vector into a result.
 */
import type { Dataset, DropReason } from '../dataset.ts';
import type { Query } from '../query-types.ts';
import type { Schema } from '../schema.ts';
import type { DistributedNoisePlan, GridSensitivity } from '../../crypto/dp/distributed.ts';

/** One coordinate of the statistic vector. */
export interface Entry {
  name: string;
  /** Max |contribution of ONE row| to this entry, after clipping to the schema bounds. */
  bound: number;
  /** Every row contribution is an integer (no fixed-point scale needed). */
  integer: boolean;
  /**
   * Every row contribution is ≥ 0 (counts, rows used, sums of squares), so the exact sum is too:
   * a released value below zero (beyond the DP noise) is a corrupted release (stats/release-check.ts).
   */
  nonNegative?: boolean;
  /**
   * Share of a non-one-hot query's ρ given to this entry, relative to the others' (default 1: an
   * equal split). A model round gives most of it to the entries its next step depends on.
   */
  privacyShare?: number;
}

/**
 * A count entry (bound 1, integer, non-negative) whose name is made when it is read: a table of
 * 10^6 cells allocates no label strings until one is shown.
 */
export class CountEntry implements Entry {
  readonly #label: (i: number) => string;
  readonly #i: number;
  constructor(label: (i: number) => string, i: number) {
    this.#label = label;
    this.#i = i;
  }
  get name(): string {
    return this.#label(this.#i);
  }
  get bound(): number {
    return 1;
  }
  get integer(): boolean {
    return true;
  }
  get nonNegative(): boolean {
    return true;
  }
}

export type { FixedSums } from '../fixed.ts';
import type { FixedSums } from '../fixed.ts';

/**
 * Per-row contribution: writes the row's terms into `out` (zeroed by the caller) and returns
 * false when the row does not contribute (a value needed by the query is missing).
 */
export type RowTerms = (row: number, out: Float64Array) => boolean;

/**
 * Per-row contribution of a count kind (every term 0 or 1): writes the indices of the entries the
 * row adds 1 to into `cells` and returns how many (0: the row does not contribute). Lets a party
 * sum a table of 10^6 cells in O(rows), not O(rows × cells).
 */
export type RowCells = (row: number, cells: Int32Array) => number;

/**
 * Per-row contribution of a kind whose rows each touch a few of many entries (cox: one time bin's
 * block): writes the distinct indices of the row's terms into `index` and their values into
 * `value`, and returns how many (−1: the row does not contribute).
 */
export type RowSparse = (row: number, index: Int32Array, value: Float64Array) => number;

/** RowTerms of a count kind, from its RowCells (one definition of which cells a row touches). */
export function termsFromCells(cellsOf: RowCells, maxCells: number): RowTerms {
  const cells = new Int32Array(maxCells);
  return (row, out) => {
    const k = cellsOf(row, cells);
    for (let j = 0; j < k; j++) out[cells[j]!] = 1;
    return k > 0;
  };
}

export interface KindDef {
  /**
   * True when one row adds to at most one entry (tables, histograms). Differential privacy uses
   * it: the sensitivity of the vector is then one entry's bound, not the sum over entries.
   */
  oneHot?: boolean;
  /**
   * The number k of entries every row adds to (each by at most its bound), when the query fixes
   * it (marginal: one cell per table). Differential privacy treats such a vector like a one-hot
   * one with L1 sensitivity k·g and L2 sensitivity √k·g, and one noise level for all entries.
   */
  rowEntries?(q: Query): number;
  /**
   * Largest fixed-point scale for this kind's real entries in exact mode (default MAX_SCALE_BITS,
   * 24). Iterative models use more: their Newton steps need the score near 0 to ~1e-12, and their
   * vectors are short, so the wider sums (two CKKS limbs) cost nothing.
   */
  maxScaleBits?: number;
  layout(q: Query, schema: Schema): Entry[];
  rowTerms(q: Query, schema: Schema, dataset: Dataset): RowTerms;
  /**
   * For count kinds (oneHot or rowEntries; every term 0 or 1): the cells each row adds 1 to, at
   * most `rowEntries(q)` (oneHot: 1) of them. Same contributions as rowTerms.
   */
  rowCells?(q: Query, schema: Schema, dataset: Dataset): RowCells;
  /**
   * The same contributions as rowTerms in sparse form, at most `max` terms per row: a party's sums
   * then cost O(rows × max) instead of O(rows × entries).
   */
  rowSparse?(q: Query, schema: Schema, dataset: Dataset): { max: number; terms: RowSparse };
  finalize(q: Query, schema: Schema, s: FixedSums): QueryResult;
  /**
   * A kind whose vector is not a sum over the loaded rows (population: the load's own counts,
   * dropped rows included): the party's integer vector, one count per entry, from the dataset's
   * load figures. localStatistics uses it instead of rowTerms; its entries stay on the integer grid.
   */
  loadCounts?(q: Query, schema: Schema, dataset: Dataset): number[];
  /**
   * DP: the noise's standard deviation of the result's numeric fields (by numericFields name),
   * when the kind computes it itself (its fields are not sums of entries). `noiseStd` per entry, in
   * the entry's units. Without it, stats/privacy.ts uses the closed form of count kinds or the bootstrap.
   */
  noiseUncertainty?(q: Query, schema: Schema, s: FixedSums, noiseStd: number[]): Record<string, number | null>;
  /**
   * A kind with its own DP mechanism for an L2-bounded vector (train_round: rotated, conditionally
   * rounded per-example gradients, crypto/dp/ddp-plan.ts). Under a DP plan its layout, row terms
   * and post-processing replace the ones above; its entries are integers on their own grid (scale
   * 0), and `noise` replaces the per-entry noise of stats/privacy.ts.
   */
  dp?: VectorMechanism;
}

/** The distributed noise of a VectorMechanism for one query, and what it costs. */
export interface VectorNoise {
  /** Every party's Skellam share, the same on every entry. */
  readonly noise: DistributedNoisePlan;
  /** One patient's effect on the vector (L1, L2), grid units. */
  readonly sensitivity: GridSensitivity;
  /** ρ this release is charged (≤ the query's ρ, which must cover it). */
  readonly roundRho: number;
  /** Public figures for the result (ε of the job, bits per coordinate, ...). */
  readonly figures: Readonly<Record<string, number | string>>;
}

export interface VectorMechanism {
  layout(q: Query, schema: Schema): Entry[];
  rowTerms(q: Query, schema: Schema, dataset: Dataset): RowTerms;
  finalize(q: Query, schema: Schema, s: FixedSums): QueryResult;
  /** Refuses (QueryError) when `rho` does not cover the release's cost. */
  noise(q: Query, schema: Schema, opts: { rho: number; parties: number; threshold: number; collusion: number }): VectorNoise;
}

type Num = number | null;
interface Base {
  /** Rows used (after filter and missing-value exclusion). */
  n: number;
  /** Why a field is null or was adjusted (degenerate cases); empty when none. */
  notes: string[];
}
export interface CountResult extends Base { kind: 'count' }
export interface SumResult extends Base { kind: 'sum'; column: string; sum: number }
export interface MeanResult extends Base { kind: 'mean'; column: string; mean: Num }
export interface VarianceResult extends Base { kind: 'variance'; column: string; mean: Num; variance: Num; sd: Num }
export interface HistogramResult extends Base {
  kind: 'histogram'; column: string; edges: number[]; counts: number[];
  /** Rows with a value below the first edge / above the last edge. */
  below: number; above: number;
}
export interface FrequencyResult extends Base { kind: 'frequency'; column: string; levels: string[]; counts: number[] }
export interface ContingencyResult extends Base {
  kind: 'contingency'; rowColumn: string; colColumn: string;
  rowLevels: string[]; colLevels: string[]; counts: number[][];
}
export interface CovarianceResult extends Base { kind: 'covariance'; columns: string[]; means: Num[]; matrix: Num[][] }
export interface CorrelationResult extends Base { kind: 'correlation'; columns: string[]; matrix: Num[][] }
export interface LinearRegressionResult extends Base {
  kind: 'linear_regression'; target: string; terms: string[];
  coefficients: number[]; standardErrors: Num[]; residualStdError: Num; rSquared: Num;
  /** Residual degrees of freedom n − p (p counts the intercept). */
  dfResidual: number;
}

/** A GLM round's result (stats/kinds/glm-result.ts); a job's answer is its last round's. */
export interface GlmResult extends Base {
  kind: 'logistic_regression' | 'poisson_regression'; family: 'binomial' | 'poisson'; link: 'logit' | 'log';
  target: string; terms: string[];
  coefficients: number[]; standardErrors: Num[]; zValues: Num[]; pValues: Num[];
  deviance: number; nullDeviance: Num; dfResidual: number; dfNull: number; aic: Num;
  /** The next state on the original scale (the coefficients the next round is evaluated at). */
  nextCoefficients: Num[];
  /** The round's state (standardized coefficients), the Newton step's next state, the objective (deviance). */
  state: number[]; nextState: number[] | null; objective: number | null;
  /** Set on a job's answer (stats/iterative.ts runJob). */
  iterations?: number; converged?: boolean;
}

export interface MarginalResult extends Base {
  kind: 'marginal'; columns: string[];
  /** Levels of each column (categories or bins, then "(missing)"). */
  levels: string[][];
  /** Each table: its column indices and its counts, row-major (first column slowest). */
  tables: { columns: number[]; counts: number[] }[];
}

/** One Kaplan–Meier curve (a stratum, or all rows), on grid-binned times (stats/kinds/kaplan-meier.ts). */
export interface KaplanMeierCurve {
  /** The stratum's level, or null for the one curve of an unstratified query. */
  stratum: string | null;
  /** Rows in the stratum, and events among them (noisy totals under DP). */
  n: number; events: number;
  /** Per reported time (a bin's upper edge): R's summary(survfit, censored = TRUE) columns. */
  time: number[]; nRisk: number[]; nEvent: number[]; nCensor: number[];
  surv: number[];
  /** Standard error of surv (Greenwood; under DP plus the noise's share), and the 95% CI (conf.type "log"). */
  stdErr: Num[]; lower: Num[]; upper: Num[];
  /** Under DP only: the noise's share of the standard error of log(surv) (delta method). */
  noiseStdErr?: Num[];
  /** Median survival and its 95% CI as print(survfit) computes them (null: not reached). */
  median: Num; medianLower: Num; medianUpper: Num;
  /** Numbers at risk at the query's `times` (as summary(survfit, times, extend = TRUE)). */
  atRisk: number[];
}
/** survdiff(rho = 0) between the strata that have rows, in the curves' order. */
export interface LogRankTest {
  strata: string[]; observed: number[]; expected: number[]; chisq: Num; df: number; p: Num;
}
export interface KaplanMeierResult extends Base {
  kind: 'kaplan_meier'; time: string; event: string; positive: string[]; strata: string | null;
  /** The report times of atRisk. */
  times: number[];
  curves: KaplanMeierCurve[];
  /** With strata: the log-rank test; else null. */
  logRank: LogRankTest | null;
}
export type { CoxResult, CoxTest } from './cox-types.ts';
import type { CoxResult } from './cox-types.ts';

export type QueryResult =
  | CountResult | SumResult | MeanResult | VarianceResult | HistogramResult | FrequencyResult
  | ContingencyResult | CovarianceResult | CorrelationResult | LinearRegressionResult | MarginalResult
  | GlmResult | KaplanMeierResult | CoxResult | TrainRoundResult | TrainEvaluateResult | PopulationResult;

/**
 * The population the parties' loads used (stats/kinds/population.ts), federation-wide: rows
 * loaded (also n), rows dropped per reason class and in all, rows loaded with a clipped value.
 * Under DP every figure is noisy; exact only where exact queries are allowed.
 */
export interface PopulationResult extends Base {
  kind: 'population';
  loaded: number;
  dropped: Record<DropReason, number>;
  droppedTotal: number;
  clipped: number;
}

/** One training round (stats/kinds/train-round.ts): the released gradient sum post-processed into the server update. */
export interface TrainRoundResult extends Base {
  kind: 'train_round';
  /** Mean (capped) log loss of the sampled rows; the norm of the clipped gradient sum. */
  meanLoss: Num; gradientNorm: number;
  /** The model's parameters this round was evaluated at. */
  parameters: number[];
  state: number[]; nextState: number[] | null; objective: number | null;
  iterations?: number; converged?: boolean;
}

/**
 * A federated evaluation (stats/kinds/train-evaluate.ts): the released score histogram (B bins of
 * [0, 1] × label) and the metrics computed from it.
 */
export interface TrainEvaluateResult extends Base {
  kind: 'train_evaluate'; target: string; positive: string[];
  /** The plan's held-out fraction (0: the evaluation is on the training rows). */
  holdout: number;
  /** Bin edges 0, 1/B, …, 1: bin b holds predictions in (e_b, e_{b+1}] (bin 0 also p = 0). */
  edges: number[];
  /** Rows with label 1 / label 0 per bin (under DP: noisy, negative values clamped at 0). */
  positiveCounts: number[]; negativeCounts: number[];
  positives: number;
  /** AUC (ties within a bin count ½), accuracy at 0.5, and log loss, Brier score and ECE from the bin centres. */
  auc: Num; accuracy: Num; logLoss: Num; brier: Num; ece: Num;
  /** Reliability bins: the bin centre, the rows, the observed rate of label 1 (null when empty). */
  calibration: { lo: number; hi: number; count: number; predicted: number; observed: Num }[];
}
