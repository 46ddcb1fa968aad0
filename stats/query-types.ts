/**
 * The shape of a federated query and its bounds, without the checks against a schema (query.ts):
 * the query kinds' definitions (kinds/) import these, and query.ts imports the kinds.
 */
export const QUERY_KINDS = [
  'count', 'sum', 'mean', 'variance', 'histogram', 'frequency',
  'contingency', 'covariance', 'correlation', 'linear_regression', 'marginal',
  'logistic_regression', 'poisson_regression', 'kaplan_meier', 'cox', 'train_round', 'train_evaluate',
  'population',
] as const;
export type QueryKind = (typeof QUERY_KINDS)[number];

export const PREDICATE_OPS = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'in', 'between', 'is_missing', 'not_missing'] as const;
export type PredicateOp = (typeof PREDICATE_OPS)[number];

/** 'between' = [lo, hi] inclusive; 'in' = list; 'is_missing'/'not_missing' = []. */
export interface Predicate {
  column: string;
  op: PredicateOp;
  values: (string | number)[];
}

export interface Query {
  kind: QueryKind;
  columns: string[];
  filter: Predicate[];
  /** Histogram bin edges, strictly increasing. */
  bins?: number[];
  /** Response of linear_regression. */
  target?: string;
  /** marginal: bin edges of each column, in the order of columns ([] for a categorical column). */
  edges?: number[][];
  /** marginal: the tables, each a list of indices into columns (default: one table of all columns). */
  tables?: number[][];
  /**
   * Levels that count as 1: of the categorical target (logistic_regression) or of the event
   * column (kaplan_meier, cox).
   */
  positive?: string[];
  /** poisson_regression: exposure column; log(value) enters the linear predictor with coefficient 1 (R's offset(log(x))). */
  offset?: string;
  /** kaplan_meier, cox: the follow-up time column (numeric or integer). */
  time?: string;
  /** kaplan_meier, cox: the event column (categorical; its `positive` levels are events, the others censoring). */
  event?: string;
  /** kaplan_meier: a categorical column to stratify by. */
  strata?: string;
  /** kaplan_meier: times at which to report the numbers at risk. */
  times?: number[];
  /**
   * Iterative kinds: the public parameters this round is evaluated at (the state released by the
   * previous round, or the documented starting point). Never derived from unreleased data.
   */
  state?: number[];
  /** Iterative kinds: the analyst's job identifier ([A-Za-z0-9._-], at most 64 characters). */
  job?: string;
  /** Iterative kinds: the round's index in its job, from 1. */
  round?: number;
  /** train_round, train_evaluate: the training plan (docs/training.md). */
  train?: TrainSpec;
}

/** A training plan: model, clipping, sampling and the server's optimizer (all public). */
export interface TrainSpec {
  model: 'logistic' | 'mlp';
  /** mlp: hidden layer sizes (ReLU). */
  hidden?: number[];
  /** L2 clip norm C of one example's gradient. */
  clip: number;
  /** Poisson sampling rate of each party's rows per round (default 1: every row). */
  samplingRate?: number;
  learningRate: number;
  optimizer: 'sgd' | 'adam';
  /** The public expected number of sampled rows per round over all parties (the update divides by it). */
  expectedBatch: number;
  /** Seed of the initial parameters. */
  seed: string;
  coding?: 'treatment' | 'one-hot';
  /**
   * Fraction of rows held out from training for evaluation (train_evaluate), in [0, 0.9], default
   * 0: a row is held out by a keyed hash of its content and `seed` (stats/train/holdout.ts).
   */
  holdout?: number;
  /** Differentially private rounds (docs/training.md § DP training): the job's public mechanism parameters. */
  dp?: TrainDpSpec;
}

/**
 * The distributed discrete mechanism of a DP training job (crypto/dp/ddp-plan.ts), fixed for the
 * whole job by the analyst's client: every node recomputes the noise and the job's ε from these and
 * the roster, and refuses a round whose ρ does not cover its share.
 */
export interface TrainDpSpec {
  /** z: noise sd over one patient's L2 sensitivity (Δ₂ of a rounded unit × rowsPerPatient). */
  noiseMultiplier: number;
  /** γ = 2^scaleBits: the grid of the rotated, scaled, conditionally rounded gradients. */
  scaleBits: number;
  /** δ of the job's (ε, δ) guarantee. */
  delta: number;
  /** Rounds of the job (its ε is for this many; each round is charged 1/rounds of it). */
  rounds: number;
}

/** Which kinds each optional field applies to (validateQuery refuses it on any other kind). */
export const FIELD_KINDS: Readonly<Record<string, readonly string[]>> = {
  bins: ['histogram', 'kaplan_meier', 'cox', 'train_evaluate'],
  target: ['linear_regression', 'logistic_regression', 'poisson_regression', 'train_round', 'train_evaluate'],
  edges: ['marginal'],
  tables: ['marginal'],
  positive: ['logistic_regression', 'kaplan_meier', 'cox', 'train_round', 'train_evaluate'],
  offset: ['poisson_regression'],
  time: ['kaplan_meier', 'cox'],
  event: ['kaplan_meier', 'cox'],
  strata: ['kaplan_meier'],
  times: ['kaplan_meier'],
  state: ['logistic_regression', 'poisson_regression', 'cox', 'train_round', 'train_evaluate'],
  job: ['logistic_regression', 'poisson_regression', 'cox', 'train_round'],
  round: ['logistic_regression', 'poisson_regression', 'cox', 'train_round'],
  train: ['train_round', 'train_evaluate'],
};

/**
 * Bounds of a query's shape, checked by parseQueryJson before anything else reads it (the query
 * arrives from an unauthenticated analyst; nothing unbounded may reach the planner, a log or an
 * error message).
 */
export const QUERY_LIMITS = {
  /** Columns of a query (covariance and regression take up to 50, marginal up to 64). */
  columns: 64,
  /** Characters of a column name (also target and kind). */
  name: 128,
  /** Predicates of a filter. */
  predicates: 64,
  /** Values of one predicate (an "in" list). */
  values: 1024,
  /** Characters of one text value. */
  valueLength: 256,
  /** Histogram bin edges, and edges of one marginal column. */
  edges: 10_001,
  /** Marginal tables, and entries of one table. */
  tables: 10_000,
  tableColumns: 64,
  /** Parameters of an iterative round's state. */
  state: 2048,
  /** Report times of kaplan_meier. */
  times: 1000,
  /** Characters of a job identifier. */
  job: 64,
  /** Rounds of one job. */
  rounds: 1000,
  /** Characters of a training plan's JSON on the wire. */
  trainJson: 4096,
} as const;

/**
 * An input string as it may appear in an error or a log line: JSON-quoted, at most `max`
 * characters of it (default 32) and the length of the rest. Input is never echoed any other way.
 */
export function quote(input: unknown, max = 32): string {
  const s = typeof input === 'string' ? input : String(input);
  if (s.length <= max) return JSON.stringify(s);
  return `${JSON.stringify(s.slice(0, max))}… (${s.length} characters)`;
}

export class QueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryError';
  }
}
