/**
 * Iterative jobs from the analyst's client: a model kind (logistic_regression,
 * poisson_regression, cox) fitted in rounds, each round a normal signed query through the
 * aggregator (either backend), evaluated at the state the previous round released
 * (stats/iterative.ts). The client drives the rounds because each round's state must be
 * authorized by the analyst's signature — an aggregator that chose states itself could weight the
 * rows to single out a patient — and, under CKKS, only the analyst can read a release at all.
 *
 * Under differential privacy the job's total ρ is split equally over its rounds, which are fixed
 * in advance (a DP job runs all of them: its objectives are noisy, so it does not stop early), and
 * the client refuses to start a job whose total exceeds the budget that remains. Each round is
 * charged by the aggregator and by every party's ledger like any query.
 */
import { randomUUID } from 'node:crypto';
import type { QueryEvent } from '../gen/blindsum/v1/blindsum.ts';
import { isIterative, runJob, type IterativeRound } from '../stats/iterative.ts';
import { describeQuery, privacyRho, type PrivacySpec, type Query, type QueryResult } from '../stats/index.ts';
import { AnalystError, openCkksOutcome, outcomeFromResponse, type AnalystClient, type QueryOutcome } from './analyst.ts';
import { queryFromProto } from '../services/common/query-codec.ts';
import type { AnalystCkksKey } from './ckks-analyst.ts';
import { planTrainingPrivacy, type TrainingPrivacy } from './train.ts';

/** Rounds of a DP job when the analyst gives none (docs/models.md: measured on pbc and flchain). */
export const DEFAULT_DP_ROUNDS = 4;

export interface JobRunOptions {
  backend?: string;
  privacy?: PrivacySpec;
  ckksKey?: AnalystCkksKey;
  /** Most rounds (exact: default 25, stops at convergence; DP: exactly this many, default DEFAULT_DP_ROUNDS). */
  maxRounds?: number;
  /** Convergence tolerance on the relative change of the objective (exact jobs; default 1e-8). */
  tolerance?: number;
  deadlineMs?: number;
  onEvent?: (ev: QueryEvent) => void;
  /** Called after each released round (awaited: e.g. an evaluation of the new state). */
  onRound?: (round: number, outcome: QueryOutcome) => unknown;
  /**
   * Resume an interrupted job: its id and the query ids of its rounds released so far, in order
   * (printed per round). Their results are read back (GetResult, or decrypted under CKKS), and the
   * job goes on from the state they lead to, numbering rounds on.
   */
  resume?: { job: string; queryIds: string[] };
}

export interface JobOutcome {
  job: string;
  /** The job's answer (the last, or best, round's result with iterations and convergence). */
  result: (QueryResult & IterativeRound) | undefined;
  /** Every round's outcome, in order. */
  rounds: QueryOutcome[];
  /** ρ charged over all rounds. */
  rhoCharged: number;
  /** The last round's outcome (its contributors, DP figures, CKKS details). */
  last: QueryOutcome;
  /**
   * DP jobs: the noise's standard deviation of each coefficient of the answer, keyed like
   * numericFields ("coefficients[j]"): the answer's coefficients are the state an earlier round's
   * noisy release led to, so their noise is that round's uncertainty of `nextCoefficients`.
   */
  coefficientNoise: Record<string, number | null>;
  /** DP training jobs: the mechanism and the job's (ε, δ). */
  training?: TrainingPrivacy;
}

/**
 * The answer of a DP job: the last round's Newton step as the coefficients (z and p values are
 * dropped: the standard errors of the last round's information do not include the DP noise).
 */
export function dpAnswer<R extends QueryResult & IterativeRound>(r: R): R {
  const g = r as unknown as { nextCoefficients?: (number | null)[]; coefficients?: number[]; zValues?: unknown[]; pValues?: unknown[] };
  if (!g.nextCoefficients || !g.coefficients || g.nextCoefficients.some((x) => x === null)) return r;
  return {
    ...r, coefficients: [...(g.nextCoefficients as number[])], zValues: g.coefficients.map(() => null), pValues: g.coefficients.map(() => null),
    notes: [...r.notes, 'differential privacy: the coefficients are the last round\'s Newton step; standard errors are from its noisy information and do not include the DP noise (see the noise sd of each coefficient)'],
  };
}

/** Runs an iterative job through the aggregator; throws AnalystError naming the round that failed. */
export async function runModelJob(client: AnalystClient, q: Query, opts: JobRunOptions = {}): Promise<JobOutcome> {
  if (!isIterative(q.kind)) throw new AnalystError(3, `${q.kind} is not an iterative kind`);
  if (q.state !== undefined || q.round !== undefined) throw new AnalystError(3, 'state and round are set by the job, not by the analyst');
  const job = opts.resume?.job ?? q.job ?? `job-${randomUUID().slice(0, 8)}`;
  const dp = opts.privacy !== undefined;
  const rounds = opts.maxRounds ?? (dp ? DEFAULT_DP_ROUNDS : undefined);
  // Rounds already released (resume): read back once, before anything is planned or charged.
  let firstLogged: Query | undefined;
  const outcomes: QueryOutcome[] = [];
  const prior: (QueryResult & IterativeRound)[] = [];
  for (const [i, id] of (opts.resume?.queryIds ?? []).entries()) {
    const r = await client.getResult(id);
    const logged = r.query ? queryFromProto(r.query) : undefined;
    if (i === 0) firstLogged = logged;
    if (!logged || logged.job !== job || logged.round !== i + 1 || logged.kind !== q.kind) {
      throw new AnalystError(3, `resume: query ${id} is not round ${i + 1} of job ${job} (${logged ? describeQuery(logged) : 'no query'})`);
    }
    const o = r.ckks && r.status === 'done' && opts.ckksKey ? await openCkksOutcome(logged, r, opts.ckksKey) : outcomeFromResponse(r);
    if (o.status !== 'done' || !o.result) throw new AnalystError(9, `resume: round ${i + 1} (query ${id}) was not released: ${o.status}${o.error ? ` — ${o.error}` : ''}`);
    outcomes.push(o);
    prior.push(o.result as QueryResult & IterativeRound);
  }
  let perRound: PrivacySpec | undefined;
  let training: TrainingPrivacy | undefined;
  if (dp && q.kind === 'train_round') {
    // The job's mechanism: chosen for (ε, δ) over its rounds, or, on resume, round 1's.
    training = await planTrainingPrivacy(client, q, opts.privacy!, rounds!, firstLogged);
    q = training.query;
  }
  if (dp) {
    const total = training ? training.jobRho : privacyRho(opts.privacy!);
    perRound = { rho: total / rounds! };
    const done = opts.resume?.queryIds.length ?? 0;
    const need = (total * (rounds! - done)) / rounds!;
    const budget = await client.getBudget();
    if (budget.remainingRho < need) {
      throw new AnalystError(8, `job refused before round ${done + 1}: ${rounds! - done} rounds at rho ${perRound.rho!.toPrecision(4)} need rho ${need.toPrecision(4)}, but ${budget.remainingRho.toPrecision(4)} of the budget remains`);
    }
  }
  const { result } = await runJob<QueryResult & IterativeRound>(
    { ...q, job },
    undefined,
    async (round) => {
      // A round that fails (or an aggregator that goes away) ends the job at this round boundary;
      // the error says how to go on from the rounds released so far.
      const resumeHint = (): string => (outcomes.length ? `; to go on: --resume ${job}:${outcomes.map((x) => x.queryId).join(',')}` : '');
      let o: QueryOutcome;
      try {
        o = await client.run(round, {
          ...(opts.backend ? { backend: opts.backend } : {}),
          ...(perRound ? { privacy: perRound } : {}),
          ...(opts.ckksKey ? { ckksKey: opts.ckksKey } : {}),
          ...(opts.deadlineMs !== undefined ? { deadlineMs: opts.deadlineMs } : {}),
          ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
        });
      } catch (e) {
        throw new AnalystError(e instanceof AnalystError ? e.code : 14, `job ${job} round ${round.round}: ${(e as Error).message}${resumeHint()}`);
      }
      outcomes.push(o);
      await opts.onRound?.(round.round!, o);
      if (o.status !== 'done' || !o.result) {
        outcomes.pop();
        throw new AnalystError(13, `job ${job} round ${round.round} (${describeQuery(round)}): ${o.status}${o.error ? ` — ${o.error}` : ''}${resumeHint()}`);
      }
      return o.result as QueryResult & IterativeRound;
    },
    { ...(rounds !== undefined ? { maxRounds: rounds } : {}), ...(opts.tolerance !== undefined ? { epsilon: opts.tolerance } : {}), job, prior, dp },
  );
  const last = outcomes[outcomes.length - 1]!;
  const coefficientNoise: Record<string, number | null> = {};
  let answer = result;
  if (dp && !training) {
    // A DP job's answer takes one more Newton step: the last round's next coefficients (its
    // release's noise sd for each is known), instead of the state it was evaluated at.
    answer = dpAnswer(result);
    for (const [k, v] of Object.entries(last.uncertainty)) if (k.startsWith('nextCoefficients[')) coefficientNoise[k.replace('nextCoefficients', 'coefficients')] = v;
  }
  return { job, result: answer, rounds: outcomes, rhoCharged: outcomes.reduce((a, o) => a + o.rhoCharged, 0), last, coefficientNoise, ...(training ? { training } : {}) };
}
