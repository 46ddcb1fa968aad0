/**
 * Classifiers in float64: logistic regression and a multilayer perceptron (ReLU hidden layers),
 * with a sigmoid output for a binary target or a softmax output for K ≥ 3 classes; the log loss
 * (cross-entropy), its per-example gradient by backpropagation, and a deterministic
 * initialization from a seed.
 *
 * Layers. With hidden sizes [h₁, …, h_L] the network has layer sizes n₀ = d, n₁ = h₁, …,
 * n_L = h_L, and n_{L+1} = 1 output for a binary target (K = 2) or K outputs for K ≥ 3 classes;
 * logistic regression is the case L = 0 (multinomial for K ≥ 3). Layer l (0 ≤ l ≤ L) maps
 * a_l ∈ ℝ^{n_l} to z_{l+1} = W_l a_l + b_l, a_{l+1} = ReLU(z_{l+1}) for hidden layers. Binary: the
 * output is the logit z and p = σ(z) = P(y = 1 | x). K classes: logits z_0 … z_{K−1} and
 * p_k = softmax(z)_k = P(y = k | x).
 *
 * Parameter layout (one flat Float64Array): for l = 0, …, L in order, W_l row-major
 * (W_l[o][i] at offset_l + o·n_l + i, o < n_{l+1}, i < n_l), then b_l (n_{l+1} values). Logistic
 * regression: [w₁, …, w_d, b] (weights, then the intercept last). Count: Σ_l n_{l+1}(n_l + 1).
 *
 * Loss: binary ℓ(θ; x, y) = −y log p − (1 − y) log(1 − p) = softplus(z) − y·z; K classes
 * ℓ = −log p_y = logsumexp(z) − z_y (both computed from the logits, so they are finite for any
 * logit). Gradient: ∂ℓ/∂z = p − y (binary) or ∂ℓ/∂z_k = p_k − 1{k = y}, then backpropagation; the
 * ReLU's derivative at 0 is taken as 0.
 *
 * Initialization (`initParams`): logistic regression starts at 0 (its loss is convex). An MLP's
 * hidden layers are He-uniform, W ~ U(−√(6/n_in), √(6/n_in)) (He et al. 2015, for ReLU), its
 * output layer Glorot-uniform, U(−√(6/(n_in + n_out)), +…) (Glorot & Bengio 2010), biases 0.
 * Uniforms are drawn in layout order from the AES-256-CTR stream of `seededRandomSource`
 * (crypto/dp/random.ts) under the seed (a string seed is hashed with SHA-256 first), 53 bits per
 * draw: the same seed gives the same bits on every machine.
 */
import { utf8 } from '../../crypto/bytes.ts';
import { seededRandomSource, type RandomSource } from '../../crypto/dp/random.ts';
import { sha256 } from '../../crypto/sha256.ts';

/** The model of a training plan; `classes` K (default 2: one sigmoid output; K ≥ 3: softmax). */
export type ModelSpec = { type: 'logistic'; classes?: number } | { type: 'mlp'; hidden: number[]; classes?: number };

export const MAX_HIDDEN_LAYERS = 8;
export const MAX_HIDDEN_UNITS = 1024;
export const MAX_PARAMETERS = 1_000_000;
export const MAX_CLASSES = 100;

export class ModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelError';
  }
}

/** A model's shape for a feature width d, with scratch space for one example (not thread-safe). */
export interface Network {
  spec: ModelSpec;
  d: number;
  /** Classes K (2: binary, one output). */
  classes: number;
  /** n₀ = d, n₁, …, n_{L+1} (1 if K = 2, else K). */
  sizes: number[];
  /** Offset of W_l in the parameter vector; b_l starts at offsets[l] + n_{l+1}·n_l. */
  offsets: number[];
  parameterCount: number;
  /** a_1 … a_L (hidden activations) and their back-propagated errors; the output layer's logits. */
  readonly act: Float64Array[];
  readonly delta: Float64Array[];
  readonly out: Float64Array;
}

function hiddenOf(spec: ModelSpec): number[] {
  if (spec.type === 'logistic') return [];
  if (spec.type !== 'mlp') throw new ModelError(`model type: ${JSON.stringify((spec as { type: unknown }).type)} is not 'logistic' or 'mlp'`);
  const h = spec.hidden;
  if (!Array.isArray(h) || h.length === 0 || h.length > MAX_HIDDEN_LAYERS) {
    throw new ModelError(`mlp: hidden must list between 1 and ${MAX_HIDDEN_LAYERS} layer sizes`);
  }
  h.forEach((n, i) => {
    if (!Number.isSafeInteger(n) || n < 1 || n > MAX_HIDDEN_UNITS) throw new ModelError(`mlp: hidden[${i}] must be an integer in [1, ${MAX_HIDDEN_UNITS}], got ${String(n).slice(0, 20)}`);
  });
  return [...h];
}

/** The network of a spec for d features (ModelError for an invalid spec or too many parameters). */
export function network(spec: ModelSpec, d: number): Network {
  if (!Number.isSafeInteger(d) || d < 1) throw new ModelError(`d: expected a positive integer number of features, got ${d}`);
  const hidden = hiddenOf(spec);
  const K = spec.classes ?? 2;
  if (!Number.isSafeInteger(K) || K < 2 || K > MAX_CLASSES) throw new ModelError(`classes must be an integer in [2, ${MAX_CLASSES}], got ${String(K).slice(0, 20)}`);
  const sizes = [d, ...hidden, K === 2 ? 1 : K];
  const offsets: number[] = [];
  let p = 0;
  for (let l = 0; l + 1 < sizes.length; l++) {
    offsets.push(p);
    p += sizes[l + 1]! * (sizes[l]! + 1);
  }
  if (p > MAX_PARAMETERS) throw new ModelError(`the model has ${p} parameters, more than ${MAX_PARAMETERS}`);
  return {
    spec, d, classes: K, sizes, offsets, parameterCount: p,
    act: hidden.map((n) => new Float64Array(n)),
    delta: hidden.map((n) => new Float64Array(n)),
    out: new Float64Array(sizes[sizes.length - 1]!),
  };
}

/** Number of parameters of a spec for d features. */
export function parameterCount(spec: ModelSpec, d: number): number {
  return network(spec, d).parameterCount;
}

/** The 32-byte key of the initialization stream: the seed itself, or SHA-256 of a string seed. */
export function seedBytes(seed: string | Uint8Array, label = 'blindsum/train/init'): Uint8Array {
  if (typeof seed !== 'string') {
    if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new ModelError('seed: expected a string or 32 bytes');
    return seed;
  }
  return sha256(utf8(`${label}\u0000${seed}`));
}

/** A uniform double in [0, 1) with 53 random bits. */
export function uniform53(rng: RandomSource): number {
  const a = rng.uint32() >>> 5; // 27 bits
  const b = rng.uint32() >>> 6; // 26 bits
  return (a * 67108864 + b) / 9007199254740992;
}

/** Deterministic initial parameters (see the file comment). */
export function initParams(spec: ModelSpec, d: number, seed: string | Uint8Array): Float64Array {
  const net = network(spec, d);
  const params = new Float64Array(net.parameterCount);
  if (spec.type === 'logistic') return params;
  const rng = seededRandomSource(seedBytes(seed));
  const L = net.sizes.length - 1;
  for (let l = 0; l < L; l++) {
    const nIn = net.sizes[l]!;
    const nOut = net.sizes[l + 1]!;
    const limit = l + 1 < L ? Math.sqrt(6 / nIn) : Math.sqrt(6 / (nIn + nOut));
    const off = net.offsets[l]!;
    for (let k = 0; k < nIn * nOut; k++) params[off + k] = (2 * uniform53(rng) - 1) * limit;
  }
  return params;
}

function checkParams(net: Network, params: Float64Array): void {
  if (params.length !== net.parameterCount) throw new ModelError(`params: expected ${net.parameterCount} values, got ${params.length}`);
}

/**
 * The forward pass on row `row` of X (row-major, d columns): fills net.act and the output logits
 * net.out (1 logit for a binary model, K otherwise), and returns net.out.
 */
export function logits(net: Network, params: Float64Array, X: Float64Array, row = 0): Float64Array {
  const sizes = net.sizes;
  const L = sizes.length - 1;
  let input: Float64Array = X;
  let base = row * net.d;
  for (let l = 0; l < L; l++) {
    const nIn = sizes[l]!;
    const nOut = sizes[l + 1]!;
    const w = net.offsets[l]!;
    const b = w + nIn * nOut;
    const last = l + 1 === L;
    const out = last ? net.out : net.act[l]!;
    for (let o = 0; o < nOut; o++) {
      let z = params[b + o]!;
      const wo = w + o * nIn;
      for (let i = 0; i < nIn; i++) z += params[wo + i]! * input[base + i]!;
      out[o] = last || z > 0 ? z : 0;
    }
    input = out;
    base = 0;
  }
  return net.out;
}

/** The logit of a binary model on row `row` of X. */
export function logit(net: Network, params: Float64Array, X: Float64Array, row = 0): number {
  if (net.classes !== 2) throw new ModelError(`logit: the model has ${net.classes} classes; use logits`);
  return logits(net, params, X, row)[0]!;
}

/** σ(z), computed without overflow. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** softplus(z) − y·z: the log loss of logit z for label y. */
export function logLossOfLogit(z: number, y: number): number {
  return Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) - y * z;
}

/** log Σ_k exp(z_k), computed without overflow. */
function logSumExp(z: Float64Array): number {
  let m = -Infinity;
  for (const v of z) if (v > m) m = v;
  let s = 0;
  for (const v of z) s += Math.exp(v - m);
  return m + Math.log(s);
}

/** The loss of the output logits net.out for label y (binary 0/1, or a class index). */
function lossOfOutput(net: Network, y: number): number {
  if (net.classes === 2) return logLossOfLogit(net.out[0]!, y);
  return logSumExp(net.out) - net.out[y]!;
}

function checkLabel(net: Network, y: number): void {
  if (!Number.isInteger(y) || y < 0 || y >= net.classes) throw new ModelError(`label: expected an integer in [0, ${net.classes}), got ${y}`);
}

/** Binary: P(y = 1 | x) for row `row` of X. */
export function forward(net: Network, params: Float64Array, X: Float64Array, row = 0): number {
  checkParams(net, params);
  return sigmoid(logit(net, params, X, row));
}

/** Class probabilities of row `row` into `out` (length K; binary: [1 − p, p]). */
export function forwardProbabilities(net: Network, params: Float64Array, X: Float64Array, row: number, out: Float64Array): Float64Array {
  checkParams(net, params);
  const z = logits(net, params, X, row);
  if (net.classes === 2) {
    const p = sigmoid(z[0]!);
    out[0] = 1 - p;
    out[1] = p;
    return out;
  }
  const lse = logSumExp(z);
  for (let k = 0; k < net.classes; k++) out[k] = Math.exp(z[k]! - lse);
  return out;
}

/**
 * The gradient of the loss of row `row` (label y: 0/1, or the class index) with respect to the
 * parameters, written into `out` (overwritten, same layout as params); returns the loss.
 */
export function perExampleGradient(net: Network, params: Float64Array, X: Float64Array, row: number, y: number, out: Float64Array): number {
  checkParams(net, params);
  checkLabel(net, y);
  if (out.length !== net.parameterCount) throw new ModelError(`out: expected ${net.parameterCount} values, got ${out.length}`);
  const z = logits(net, params, X, row);
  const lossValue = lossOfOutput(net, y);
  // ∂ℓ/∂z into net.out (the logits are no longer needed).
  if (net.classes === 2) {
    z[0] = sigmoid(z[0]!) - y;
  } else {
    const lse = logSumExp(z);
    for (let k = 0; k < z.length; k++) z[k] = Math.exp(z[k]! - lse) - (k === y ? 1 : 0);
  }
  const sizes = net.sizes;
  const L = sizes.length - 1;
  const xBase = row * net.d;
  for (let l = L - 1; l >= 0; l--) {
    const nIn = sizes[l]!;
    const nOut = sizes[l + 1]!;
    const w = net.offsets[l]!;
    const b = w + nIn * nOut;
    const input = l === 0 ? X : net.act[l - 1]!;
    const base = l === 0 ? xBase : 0;
    const deltaOut = l === L - 1 ? z : net.delta[l]!;
    for (let o = 0; o < nOut; o++) {
      const dz = deltaOut[o]!;
      const wo = w + o * nIn;
      for (let i = 0; i < nIn; i++) out[wo + i] = dz * input[base + i]!;
      out[b + o] = dz;
    }
    if (l === 0) break;
    // δ_l[i] = Σ_o W_l[o][i] δ_{l+1}[o] · 1{a_l[i] > 0}.
    const act = net.act[l - 1]!;
    const dIn = net.delta[l - 1]!;
    for (let i = 0; i < nIn; i++) {
      if (!(act[i]! > 0)) {
        dIn[i] = 0;
        continue;
      }
      let s = 0;
      for (let o = 0; o < nOut; o++) s += params[w + o * nIn + i]! * deltaOut[o]!;
      dIn[i] = s;
    }
  }
  return lossValue;
}

/**
 * Predictions for the given rows of X (all rows by default): binary, P(y = 1 | x) per row;
 * K classes, the K probabilities per row (row-major, rows × K).
 */
export function predict(net: Network, params: Float64Array, X: Float64Array, rows?: ArrayLike<number>): Float64Array {
  checkParams(net, params);
  const n = rows ? rows.length : X.length / net.d;
  if (net.classes === 2) {
    const out = new Float64Array(n);
    for (let k = 0; k < n; k++) out[k] = sigmoid(logit(net, params, X, rows ? rows[k]! : k));
    return out;
  }
  const K = net.classes;
  const out = new Float64Array(n * K);
  for (let k = 0; k < n; k++) forwardProbabilities(net, params, X, rows ? rows[k]! : k, out.subarray(k * K, (k + 1) * K));
  return out;
}

/** Mean loss over the given rows (all rows by default). */
export function loss(net: Network, params: Float64Array, X: Float64Array, y: Float64Array, rows?: ArrayLike<number>): number {
  checkParams(net, params);
  const n = rows ? rows.length : y.length;
  if (n === 0) return NaN;
  let s = 0;
  for (let k = 0; k < n; k++) {
    const r = rows ? rows[k]! : k;
    checkLabel(net, y[r]!);
    logits(net, params, X, r);
    s += lossOfOutput(net, y[r]!);
  }
  return s / n;
}
