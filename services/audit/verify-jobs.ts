/**
 * Replay of iterative jobs in the auditor's verifier (stats/iterative.ts, client/jobs.ts). The
 * rounds of one job (one analyst, one job id) must
 *   - be numbered 1, 2, … in the order they were submitted;
 *   - fit one model: every round's query equals the first's but for its state and round;
 *   - when the previous round's release is in the clear in the transcript (secure aggregation,
 *     checked against finalize() with the schema), be evaluated at the state the job's rule
 *     (JobStepper) derives from the releases so far: the Newton step, or a step halving.
 * A round after a CKKS release (readable only by the analyst), a failed round or a release
 * without the schema is not state-checked; the report counts those rounds. The analyst signs every round (verify-analyst.ts): these
 * checks catch a transcript whose rounds were reordered, dropped or rewritten, and an analyst's
 * client that evaluates rounds at states the released statistics do not lead to.
 */
import { canonicalJson } from '../../stats/canonical.ts';
import { ITERATIVE, JobStepper, type IterativeRound } from '../../stats/iterative.ts';
import type { Query } from '../../stats/index.ts';

interface JobTrack {
  model: string;
  lastRound: number;
  lastQueryId: string;
  /** Whether the last round's release was recomputed here (its result fed to the stepper). */
  released: boolean;
  stepper: JobStepper;
  /** The state the next round must be evaluated at (null: the job's rule gives none). */
  next: number[] | null | undefined;
}

function modelOf(q: Query): string {
  const { state: _s, round: _r, ...rest } = q;
  return canonicalJson(rest);
}

function sameState(a: readonly number[] | undefined, b: readonly number[]): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

export class JobReplay {
  readonly #jobs = new Map<string, JobTrack>();
  readonly #byQuery = new Map<string, JobTrack>();
  /** Rounds whose state could not be checked (after a CKKS or failed round). */
  uncheckedRounds = 0;
  checkedRounds = 0;
  readonly #partial: boolean;

  /** `partial`: the export starts after entry 0 (earlier rounds may be outside it). */
  constructor(partial: boolean) {
    this.#partial = partial;
  }

  /** A submitted query; returns why it breaks its job, or null. */
  submitted(queryId: string, analyst: string, q: Query): string | null {
    if (q.job === undefined || q.round === undefined) return null;
    const key = `${analyst}\u0000${q.job}`;
    const name = `round ${q.round} of job ${q.job}`;
    let t = this.#jobs.get(key);
    if (!t) {
      if (q.round !== 1 && !this.#partial) return `${name} has no round ${q.round - 1} before it`;
      if (q.round === 1 && q.state !== undefined) return `${name}: round 1 is evaluated at the kind's documented start, not at a state the analyst gives`;
      t = { model: modelOf(q), lastRound: q.round, lastQueryId: queryId, released: false, stepper: new JobStepper(Number.MIN_VALUE, ITERATIVE[q.kind]?.midpoint, ITERATIVE[q.kind]?.fixedRounds === true), next: undefined };
      this.#jobs.set(key, t);
      this.#byQuery.set(queryId, t);
      return null;
    }
    if (q.round !== t.lastRound + 1) return `${name} follows round ${t.lastRound} (rounds are numbered 1, 2, … in order)`;
    if (modelOf(q) !== t.model) return `${name} changes the model (its query differs from round 1's beyond state and round)`;
    if (t.released) {
      if (t.next === null) return `${name}: the releases so far give no next state (the job should have stopped)`;
      if (!sameState(q.state, t.next!)) return `${name} is evaluated at a state that is not the job's step from the released rounds before it`;
      this.checkedRounds++;
    } else {
      this.uncheckedRounds++;
    }
    t.lastRound = q.round;
    t.lastQueryId = queryId;
    t.released = false;
    this.#byQuery.set(queryId, t);
    return null;
  }

  /** A round's release whose result the verifier recomputed (secure aggregation, with the schema). */
  released(queryId: string, result: IterativeRound): void {
    const t = this.#byQuery.get(queryId);
    if (!t || t.lastQueryId !== queryId) return;
    t.released = true;
    t.next = t.stepper.observe(result);
  }
}
