/**
 * From a cox round's log partial likelihood, score and information (standardized scale) to the
 * round's result as summary(coxph) reports it; the job summary (score test from the round at
 * β = 0); and the central reference fit, computed directly on the raw rows in float64 (no
 * bins of sums, no fixed point) so that tests compare two implementations of the statistics.
 */
import type { CategoricalColumn, Dataset } from '../dataset.ts';
import { chiSquareUpper, normalQuantile, twoSidedP } from '../distributions.ts';
import { matchRows } from '../filter.ts';
import { DEFAULT_EPSILON, DEFAULT_MAX_ROUNDS, JobStepper, type IterativeRound } from '../iterative.ts';
import type { Query } from '../query-types.ts';
import { MISSING_LEVEL, type Schema } from '../schema.ts';
import { coxLayout, coxState, type CoxLayout } from './cox-layout.ts';
import type { CoxResult, CoxTest } from './cox-types.ts';
import { designRows, timeBin, toOriginalScale } from './design.ts';
import { cholesky, choleskySolve } from './regression.ts';
import { numericValues } from './univariate.ts';

/** What a round's statistics give at its state. */
export interface CoxFit {
  /** Rows used and events among them. */
  n: number;
  events: number;
  /** Breslow log partial likelihood at the state and at β = 0 (same rows). */
  loglik: number;
  loglik0: number;
  /** Score and information at the state (standardized terms). */
  U: number[];
  I: number[][];
}

const Z975 = normalQuantile(0.975);

function chiTest(statistic: number, df: number): CoxTest {
  return { statistic, df, p: chiSquareUpper(statistic, df) };
}

/** The round's result: coefficients at the state, their SEs, the Newton step and the tests. */
export function coxResultFrom(q: Query, L: CoxLayout, f: CoxFit): CoxResult {
  const { design, p } = L;
  const state = coxState(q, p);
  const notes: string[] = [];
  const nulls = (): (number | null)[] => new Array<number | null>(p).fill(null);
  // At β = 0 the likelihood is l(0), from the counts alone (exact; the weighted sums give it to rounding).
  if (state.every((b) => b === 0) && Number.isFinite(f.loglik0)) f = { ...f, loglik: f.loglik0 };
  const finite = Number.isFinite(f.loglik);
  const res: CoxResult = {
    kind: 'cox', n: f.n, notes, time: q.time!, event: q.event!, positive: [...(q.positive ?? [])], edges: [...L.edges],
    terms: [...design.terms], events: f.events, state, nextState: null, objective: finite ? -2 * f.loglik : null,
    coefficients: toOriginalScale(design, state, null, false).beta, hazardRatios: [], standardErrors: nulls(), z: nulls(), p: nulls(),
    lower95: nulls(), upper95: nulls(), loglik: finite ? f.loglik : null, loglikNull: Number.isFinite(f.loglik0) ? f.loglik0 : null,
    likelihoodRatio: null, wald: null, score: null,
  };
  res.hazardRatios = res.coefficients.map(Math.exp);
  if (f.events === 0) {
    notes.push('no events among the rows used: the partial likelihood is flat, no coefficient can be estimated');
    return res;
  }
  if (!finite) {
    notes.push('the log partial likelihood is not finite at this state (the risk-set sums underflow): the state is far from the fit; no Newton step from it');
    return res;
  }
  if (res.loglikNull !== null) res.likelihoodRatio = chiTest(2 * (f.loglik - res.loglikNull), p);
  const chol = f.I.every((row) => row.every(Number.isFinite)) ? cholesky(f.I) : null;
  if (!chol) {
    notes.push(`the information matrix is singular at this state (a predictor is constant among the rows at risk at the event times, or collinear with others among [${q.columns.join(', ')}]): no Newton step or standard errors`);
    return res;
  }
  const step = choleskySolve(chol, f.U);
  res.nextState = state.map((b, a) => b + step[a]!);
  const V = Array.from({ length: p }, (_, a) => choleskySolve(chol, Array.from({ length: p }, (_, b) => (a === b ? 1 : 0))));
  const orig = toOriginalScale(design, state, V, false);
  for (let a = 0; a < p; a++) {
    const v = orig.cov![a]![a]!;
    if (!(v > 0)) continue;
    const se = Math.sqrt(v);
    const b = orig.beta[a]!;
    res.standardErrors[a] = se;
    res.z[a] = b / se;
    res.p[a] = twoSidedP(b / se);
    res.lower95[a] = Math.exp(b - Z975 * se);
    res.upper95[a] = Math.exp(b + Z975 * se);
  }
  const quad = (x: number[], M: number[][]): number => x.reduce((s, xa, a) => s + xa * M[a]!.reduce((t, m, b) => t + m * x[b]!, 0), 0);
  res.wald = chiTest(quad(state, f.I), p);
  if (state.every((b) => b === 0)) res.score = chiTest(f.U.reduce((s, u, a) => s + u * step[a]!, 0), p);
  return res;
}

/**
 * A job's answer: its last round, with the score (log-rank) test of its first round (evaluated at
 * β = 0) when both rounds are over the same rows; a party that dropped out (or joined) between
 * them leaves no round at β = 0 over the final rows, and the score test is then not reported.
 */
export function coxSummarize(first: IterativeRound, last: IterativeRound): IterativeRound {
  const f = first as CoxResult;
  const l = last as CoxResult;
  const out: CoxResult = { ...l, notes: [...l.notes] };
  if (f.n === l.n && f.events === l.events && f.state.every((b) => b === 0)) {
    out.score = f.score;
  } else {
    out.score = null;
    out.notes.push(`score (log-rank) test not reported: it is the round at β = 0 over the same rows, and the rows changed after round 1 (n = ${f.n}, ${f.events} events; then n = ${l.n}, ${l.events} events)`);
  }
  return out;
}

/**
 * The round's statistics straight from the raw rows in float64: for each grid-binned event time
 * τ, the risk set {i : τ_i ≥ τ} and the events at τ, summed directly (Breslow). O(event times ×
 * rows × p²); a reference for tests, not for large data.
 */
export function centralCox(q: Query, schema: Schema, dataset: Dataset): CoxResult {
  const L = coxLayout(q, schema);
  const { p, edges } = L;
  const beta = coxState(q, p);
  const mask = matchRows(dataset, q.filter);
  const times = numericValues(dataset, q.time!);
  const ev = dataset.columns.get(q.event!) as CategoricalColumn;
  const positive = new Set((q.positive ?? []).map((lv) => ev.levels.indexOf(lv)));
  const terms = designRows(L.design, dataset);
  const rows: { t: number; event: boolean; x: number[]; eta: number; r: number }[] = [];
  const x = new Float64Array(p);
  for (let i = 0; i < dataset.rowCount; i++) {
    if (!mask[i] || Number.isNaN(times[i]!) || ev.codes[i]! < 0 || ev.levels[ev.codes[i]!] === MISSING_LEVEL || !terms(i, x)) continue;
    const xs = [...x];
    const eta = xs.reduce((s, v, a) => s + v * beta[a]!, 0);
    rows.push({ t: edges[timeBin(edges, times[i]!) + 1]!, event: positive.has(ev.codes[i]!), x: xs, eta, r: Math.exp(eta) });
  }
  const eventTimes = [...new Set(rows.filter((r) => r.event).map((r) => r.t))].sort((a, b) => a - b);
  let loglik = 0;
  let loglik0 = 0;
  let events = 0;
  const U = new Array<number>(p).fill(0);
  const I = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  for (const tau of eventTimes) {
    let s0 = 0;
    let atRisk = 0;
    const s1 = new Array<number>(p).fill(0);
    const s2 = Array.from({ length: p }, () => new Array<number>(p).fill(0));
    let d = 0;
    for (const row of rows) {
      if (row.t === tau && row.event) {
        d++;
        loglik += row.eta;
        for (let a = 0; a < p; a++) U[a]! += row.x[a]!;
      }
      if (row.t < tau) continue;
      atRisk++;
      s0 += row.r;
      for (let a = 0; a < p; a++) {
        s1[a]! += row.r * row.x[a]!;
        for (let b = 0; b < p; b++) s2[a]![b]! += row.r * row.x[a]! * row.x[b]!;
      }
    }
    events += d;
    loglik -= d * Math.log(s0);
    loglik0 -= d * Math.log(atRisk);
    for (let a = 0; a < p; a++) {
      U[a]! -= (d * s1[a]!) / s0;
      for (let b = 0; b < p; b++) I[a]![b]! += d * (s2[a]![b]! / s0 - (s1[a]! * s1[b]!) / (s0 * s0));
    }
  }
  return coxResultFrom(q, L, { n: rows.length, events, loglik, loglik0, U, I });
}

/**
 * The Cox fit computed centrally (what `centralResult` answers for a cox query): the same rounds as
 * a federated job (centralCox at each state, from β = 0) driven by the job's rule (JobStepper),
 * so a federated job's answer and this one are compared like for like.
 */
export function centralCoxFit(q: Query, schema: Schema, dataset: Dataset, epsilon = DEFAULT_EPSILON, maxRounds = DEFAULT_MAX_ROUNDS): CoxResult {
  let state = new Array<number>(coxLayout(q, schema).p).fill(0);
  const stepper = new JobStepper<CoxResult>(epsilon);
  const rounds: CoxResult[] = [];
  for (let r = 1; r <= maxRounds; r++) {
    const res = centralCox({ ...q, state, round: r }, schema, dataset);
    rounds.push(res);
    const next = stepper.observe(res);
    if (stepper.converged || next === null) break;
    state = next;
  }
  const answer = stepper.converged ? rounds[rounds.length - 1]! : stepper.best ?? rounds[rounds.length - 1]!;
  return { ...(coxSummarize(rounds[0]!, answer) as CoxResult), iterations: rounds.length, converged: stepper.converged };
}
