/**
 * Server optimizers and the central (pooled, non-private) reference training.
 *
 * A round t: sample a batch B_t (Poisson, rate q), compute S_t = Σ_{i∈B_t} clip_C(∇ℓ_i) (C = ∞:
 * no clipping), form the mean gradient with the *expected* batch size, ḡ_t = S_t / (q·N) (the
 * actual batch size is data-dependent and would need its own noise; DP-SGD's fixed denominator),
 * and apply the server optimizer:
 *
 * - `sgd` (FedSGD / FedAvg with one local step): θ ← θ − η·ḡ_t.
 * - `adam` (FedAdam, Reddi et al., "Adaptive Federated Optimization", ICLR 2021, Algorithm 2, with
 *   the pseudo-gradient Δ_t = −ḡ_t): m ← β₁m + (1 − β₁)Δ_t, v ← β₂v + (1 − β₂)Δ_t²,
 *   θ ← θ + η·m/(√v + τ), elementwise; m₀ = 0, v₀ = τ² (the paper asks v₋₁ ≥ τ²), no bias
 *   correction (as in the paper). Defaults: β₁ = 0.9, β₂ = 0.99, τ = 1e-3 (the paper's values;
 *   τ and η are tuned per task there).
 *
 * `trainCentral` runs these rounds on pooled data with the same explicit steps (`sampleRows`,
 * `clippedGradientSum`, `serverUpdate`) a federation runs, so that a federated run without noise
 * can be compared with it round by round given the same initial parameters and the same batches.
 */
import { seededRandomSource, type RandomSource } from '../../crypto/dp/random.ts';
import { clippedGradientSum, sampleRows } from './clip.ts';
import { initParams, ModelError, seedBytes, type Network } from './model.ts';

export type ServerOptimizer =
  | { kind: 'sgd'; lr: number }
  | { kind: 'adam'; lr: number; beta1?: number; beta2?: number; tau?: number };

export const FEDADAM_DEFAULTS: { beta1: number; beta2: number; tau: number } = { beta1: 0.9, beta2: 0.99, tau: 1e-3 };

/** The optimizer's state between rounds (public: it is a function of the released updates). */
export interface OptimizerState {
  step: number;
  m: Float64Array | null;
  v: Float64Array | null;
}

function checkOptimizer(opt: ServerOptimizer): { beta1: number; beta2: number; tau: number } {
  if (!(opt.lr > 0) || !Number.isFinite(opt.lr)) throw new ModelError(`learning rate must be a positive finite number, got ${opt.lr}`);
  if (opt.kind === 'sgd') return FEDADAM_DEFAULTS;
  if (opt.kind !== 'adam') throw new ModelError(`server optimizer: ${JSON.stringify((opt as { kind: unknown }).kind)} is not 'sgd' or 'adam'`);
  const h = { beta1: opt.beta1 ?? FEDADAM_DEFAULTS.beta1, beta2: opt.beta2 ?? FEDADAM_DEFAULTS.beta2, tau: opt.tau ?? FEDADAM_DEFAULTS.tau };
  if (!(h.beta1 >= 0 && h.beta1 < 1) || !(h.beta2 >= 0 && h.beta2 < 1)) throw new ModelError(`adam: beta1 and beta2 must lie in [0, 1), got ${h.beta1}, ${h.beta2}`);
  if (!(h.tau > 0) || !Number.isFinite(h.tau)) throw new ModelError(`adam: tau must be positive, got ${h.tau}`);
  return h;
}

/** The state before round 1. */
export function initOptimizerState(opt: ServerOptimizer, parameterCount: number): OptimizerState {
  const h = checkOptimizer(opt);
  if (opt.kind === 'sgd') return { step: 0, m: null, v: null };
  return { step: 0, m: new Float64Array(parameterCount), v: new Float64Array(parameterCount).fill(h.tau * h.tau) };
}

/**
 * One server step from a round's gradient sum: returns the new parameters and state (the inputs
 * are not modified). `expectedBatch` is the denominator q·N (positive).
 */
export function serverUpdate(params: Float64Array, gradSum: Float64Array, expectedBatch: number, opt: ServerOptimizer, state: OptimizerState): { params: Float64Array; state: OptimizerState } {
  const h = checkOptimizer(opt);
  const P = params.length;
  if (gradSum.length !== P) throw new ModelError(`gradient sum: expected ${P} values, got ${gradSum.length}`);
  if (!(expectedBatch > 0) || !Number.isFinite(expectedBatch)) throw new ModelError(`expected batch size must be positive, got ${expectedBatch}`);
  const next = new Float64Array(params);
  if (opt.kind === 'sgd') {
    for (let i = 0; i < P; i++) next[i]! -= (opt.lr * gradSum[i]!) / expectedBatch;
    return { params: next, state: { step: state.step + 1, m: null, v: null } };
  }
  if (!state.m || !state.v || state.m.length !== P || state.v.length !== P) throw new ModelError('adam: the optimizer state does not match the parameters (use initOptimizerState)');
  const m = new Float64Array(P);
  const v = new Float64Array(P);
  for (let i = 0; i < P; i++) {
    const delta = -gradSum[i]! / expectedBatch;
    m[i] = h.beta1 * state.m[i]! + (1 - h.beta1) * delta;
    v[i] = h.beta2 * state.v[i]! + (1 - h.beta2) * delta * delta;
    next[i]! += (opt.lr * m[i]!) / (Math.sqrt(v[i]!) + h.tau);
  }
  return { params: next, state: { step: state.step + 1, m, v } };
}

export interface CentralOptions {
  rounds: number;
  /** Poisson sampling rate per round. */
  q: number;
  optimizer: ServerOptimizer;
  /** Per-example clip norm (default Infinity: no clipping). */
  clip?: number;
  /** Initial parameters: initParams(spec, d, seed) with this seed, unless `params` is given. */
  seed: string | Uint8Array;
  params?: Float64Array;
  /** The batches: by default sampleRows(N, q, rng) with rng seeded from `seed`. */
  sampler?: (round: number, rng: RandomSource) => ArrayLike<number>;
  /** Called after each round with the new parameters. */
  onRound?: (round: number, params: Float64Array, info: { batch: number; batchLoss: number }) => void;
}

export interface CentralResult {
  params: Float64Array;
  state: OptimizerState;
  history: { round: number; batch: number; clipped: number; batchLoss: number }[];
}

/** Non-private minibatch training on pooled data (the reference of the federated rounds). */
export function trainCentral(net: Network, X: Float64Array, y: Float64Array, o: CentralOptions): CentralResult {
  const N = y.length;
  if (X.length !== N * net.d) throw new ModelError(`X: expected ${N} × ${net.d} values, got ${X.length}`);
  if (!Number.isSafeInteger(o.rounds) || o.rounds < 0) throw new ModelError(`rounds must be a non-negative integer, got ${o.rounds}`);
  if (!(o.q > 0 && o.q <= 1)) throw new ModelError(`sampling rate q must lie in (0, 1], got ${o.q}`);
  let params = o.params ? new Float64Array(o.params) : initParams(net.spec, net.d, o.seed);
  let state = initOptimizerState(o.optimizer, net.parameterCount);
  const rng = seededRandomSource(seedBytes(o.seed, 'blindsum/train/sample'));
  const history: CentralResult['history'] = [];
  const expected = o.q * N;
  for (let t = 1; t <= o.rounds; t++) {
    const rows = o.sampler ? o.sampler(t, rng) : sampleRows(N, o.q, rng);
    const s = clippedGradientSum(net, params, X, y, rows, o.clip ?? Infinity);
    ({ params, state } = serverUpdate(params, s.sum, expected, o.optimizer, state));
    const batchLoss = s.count > 0 ? s.lossSum / s.count : NaN;
    history.push({ round: t, batch: s.count, clipped: s.clipped, batchLoss });
    o.onRound?.(t, params, { batch: s.count, batchLoss });
  }
  return { params, state, history };
}

