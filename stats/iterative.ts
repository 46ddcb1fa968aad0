/**
 * Iterative jobs: a model fitted in rounds, each round a normal federated query of an iterative
 * kind (logistic_regression, poisson_regression, cox) evaluated at a public `state` (the
 * parameters). A round's released result holds the objective at that state (deviance, or −2 log
 * partial likelihood), the standard errors there, and the Newton step's next state; the next round
 * is the same query at that next state. Nothing but released results reaches the next round, and
 * every round is planned (fixed-point grid, overflow check) from public bounds and its state before
 * any data is read.
 *
 * Convergence is R's rule (glm.control): |obj_k − obj_{k−1}| / (|obj_k| + 0.1) < ε. The job's
 * answer is the last round's result: its coefficients are the state it was evaluated at, and its
 * standard errors the information there. A round whose objective rose is followed by a step
 * halving (the midpoint of the last two states), as glm.fit and coxph do. Objectives are only
 * compared between rounds over the same rows (n): when a party drops out between rounds, the job
 * goes on from the new round's step and converges on the remaining parties' rows. Under
 * differential privacy n is noisy, so a DP job runs its planned number of rounds.
 *
 * `runJob` drives the rounds through a callback that runs one federated query and returns its
 * released result (the analyst client, a central reference, or a test harness), so the same
 * driver is used everywhere. Under CKKS only the analyst can read a release, so the analyst's
 * client computes each next state and signs the next round (docs/models.md).
 */
import type { Query } from './query-types.ts';
import type { Schema } from './schema.ts';

/** What every iterative kind's per-round result carries. */
export interface IterativeRound {
  /** The state this round was evaluated at. */
  state: number[];
  /** The Newton step's next state, or null when it cannot be computed (singular information). */
  nextState: number[] | null;
  /** The objective at `state` (to minimize), or null when not finite. */
  objective: number | null;
  /** Rows used by the round (a change means the population changed, e.g. a party dropped out). */
  n: number;
  /** Rounds run, and whether the job converged (set by runJob on the answer). */
  iterations?: number;
  converged?: boolean;
  notes: string[];
}

export interface IterativeDef {
  /** The documented starting state (public: from the query and schema only). */
  initialState(q: Query, schema: Schema): number[];
  /**
   * The job's answer from its first and last rounds (e.g. Cox's score and likelihood-ratio tests
   * use the first round, evaluated at β = 0). Default: the last round.
   */
  summarize?(first: IterativeRound, last: IterativeRound): IterativeRound;
  /** Step halving: the state halfway between a and b (default: the elementwise mean). */
  midpoint?(a: number[], b: number[]): number[];
  /**
   * Training: every round goes on from its own next state (no convergence test, no step halving:
   * a sampled loss is not an objective to descend on); the job runs its planned rounds.
   */
  fixedRounds?: boolean;
}

/** Iterative kinds, registered by their definitions (stats/kinds). */
export const ITERATIVE: Record<string, IterativeDef> = {};

export function isIterative(kind: string): boolean {
  return kind in ITERATIVE;
}

export interface JobOptions {
  /** Most rounds (R's glm default: 25). */
  maxRounds?: number;
  /** Relative change of the objective that counts as converged (R's glm default: 1e-8). */
  epsilon?: number;
  /** Job identifier written into every round's query. */
  job?: string;
  /**
   * Rounds already released (a job resumed after an interruption, e.g. an aggregator restart): fed
   * to the job's rule in order, and the job goes on at round prior.length + 1 from the state they
   * lead to. Their count counts against maxRounds.
   */
  prior?: IterativeRound[];
  /** A DP job (its n is noisy: no notes about rows changing). */
  dp?: boolean;
  /** Called after every round with its result (progress). */
  onRound?: (round: number, result: IterativeRound) => void;
}

export const DEFAULT_MAX_ROUNDS = 25;
export const DEFAULT_EPSILON = 1e-8;

/** Whether the relative change of the objective is below ε (R's glm rule). */
export function convergedBy(prev: number, cur: number, epsilon: number): boolean {
  return Math.abs(cur - prev) / (Math.abs(cur) + 0.1) < epsilon;
}

export class JobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobError';
  }
}

/**
 * The state a job evaluates next, from the rounds released so far — one rule for the analyst's
 * client (runJob) and the auditor who replays a job from the transcript (services/audit/verify-jobs.ts):
 *   - the rows changed (n differs from the best round's: a party left or joined, or n is noisy):
 *     objectives are not comparable, go on from this round's Newton step;
 *   - the objective did not rise: this round is the best so far, go on from its Newton step;
 *   - it rose (or is not finite): halve the step, the midpoint of the best state and this one.
 * `observe` returns that state, or null when there is none (no Newton step and nothing to halve).
 * `converged` says whether the last round met the tolerance against the best round before it.
 */
export class JobStepper<R extends IterativeRound = IterativeRound> {
  readonly #epsilon: number;
  readonly #midpoint: (a: number[], b: number[]) => number[];
  best: R | undefined;
  converged = false;
  readonly #fixed: boolean;
  constructor(epsilon: number, midpoint: (a: number[], b: number[]) => number[] = (a, b) => a.map((x, i) => (x + b[i]!) / 2), fixed = false) {
    this.#epsilon = epsilon;
    this.#midpoint = midpoint;
    this.#fixed = fixed;
  }
  observe(res: R): number[] | null {
    if (this.#fixed) {
      this.best = res;
      return res.nextState;
    }
    const best = this.best;
    const obj = res.objective;
    if (best !== undefined && res.n !== best.n) {
      this.best = res;
      return res.nextState;
    }
    this.converged = best !== undefined && best.objective !== null && obj !== null && convergedBy(best.objective, obj, this.#epsilon);
    if (obj !== null && (best === undefined || best.objective === null || obj <= best.objective)) {
      this.best = res;
      return res.nextState;
    }
    if (best !== undefined && best.nextState !== null) return this.#midpoint(best.state, res.state);
    return null;
  }
}

/**
 * Runs an iterative job: round r is `q` with state s_r (s_1 the kind's initial state, left to the
 * kind when no schema is given), job and
 * round set; `runRound` runs it and returns its released result. Stops when converged, when the
 * Newton step cannot be computed, or after maxRounds (then `converged` is false with a note).
 */
export async function runJob<R extends IterativeRound>(
  q: Query, schema: Schema | undefined, runRound: (round: Query) => Promise<R>, opts: JobOptions = {},
): Promise<{ result: R; rounds: R[] }> {
  const def = ITERATIVE[q.kind];
  if (!def) throw new JobError(`${q.kind} is not an iterative kind`);
  const maxRounds = opts.maxRounds ?? DEFAULT_MAX_ROUNDS;
  const epsilon = opts.epsilon ?? DEFAULT_EPSILON;
  if (!(Number.isInteger(maxRounds) && maxRounds >= 1 && maxRounds <= 1000)) throw new JobError(`maxRounds must be an integer in [1, 1000], got ${maxRounds}`);
  if (!(epsilon > 0 && epsilon < 1)) throw new JobError(`epsilon must be in (0, 1), got ${epsilon}`);
  const rounds: R[] = [];
  // Without the schema (an analyst's client) round 1 carries no state: the kind's documented start.
  let state: number[] | undefined = schema ? def.initialState(q, schema) : undefined;
  const stepper = new JobStepper<R>(epsilon, def.midpoint, def.fixedRounds === true);
  const jobNotes: string[] = [];
  let first = 1;
  for (const res of (opts.prior ?? []) as R[]) {
    rounds.push(res);
    const next = stepper.observe(res);
    if (next === null || stepper.converged) throw new JobError(`the resumed job already ended at round ${rounds.length} (${next === null ? 'no next state' : 'converged'})`);
    state = next;
    first++;
  }
  for (let r = first; r <= maxRounds; r++) {
    const round: Query = state === undefined ? { ...q, round: r } : { ...q, state, round: r };
    if (opts.job !== undefined) round.job = opts.job;
    const res = await runRound(round);
    rounds.push(res);
    opts.onRound?.(r, res);
    const prev = rounds[rounds.length - 2];
    if (prev !== undefined && prev.n !== res.n && opts.dp !== true) {
      jobNotes.push(`round ${r} was over other rows than round ${r - 1} (n = ${prev.n} then ${res.n}): convergence was tested again from round ${r} on`);
    }
    const next = stepper.observe(res);
    if (stepper.converged || next === null) break;
    state = next;
  }
  const converged = stepper.converged;
  const best = stepper.best;
  const last = rounds[rounds.length - 1]!;
  const answer = (converged ? last : best ?? last) as R;
  const summarized = (def.summarize ? def.summarize(rounds[0]!, answer) : answer) as R;
  const out = { ...summarized, iterations: rounds.length, converged, notes: [...summarized.notes, ...jobNotes] };
  if (!converged && def.fixedRounds !== true) out.notes.push(`did not converge in ${rounds.length} rounds (relative change of the objective above ${epsilon}); the result is the best round's`);
  return { result: out, rounds };
}
