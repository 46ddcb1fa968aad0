/**
 * cox: one round of a Cox proportional hazards fit (Breslow ties on the public time grid),
 * evaluated at the public state β̃ (the coefficients of the standardized terms x̃, |x̃| ≤ 1,
 * stats/kinds/design.ts). A job (stats/iterative.ts) runs rounds until the partial likelihood
 * converges; docs/cox.md explains the model and what each round releases.
 *
 * Statistic vector, for K time bins and p terms, one block per bin j (rows whose time falls in j):
 *   c_j    rows                                               (integer, bound 1)
 *   d_j    events among them                                  (integer, bound 1)
 *   the m = 1 + p + p(p+1)/2 weighted sums, high words        (bound W)
 *     S0_j = Σ w_i,  S1_j = Σ w_i x̃_i,  S2_j = Σ w_i x̃_i x̃_iᵀ (upper triangle)
 *   the same m sums, low words                                (bound 1/2)
 * then E = Σ over event rows of x̃_i (p entries, high words, then p low words). The weight is
 *   w_i = W · exp(min(x̃_iβ̃ − B, 0)),  W = 2^WEIGHT_BITS,
 * where B (etaBound) is the largest x̃β̃ of any row the schema allows: Σ|β̃_k| over numeric terms
 * plus, per categorical column, max(0, its largest β̃_k),
 * i.e. exp(x̃_iβ̃) times the public constant W·e^(−B) (x̃_iβ̃ ≤ B always; the min only guards the
 * float rounding), so every entry's bound is known before any data is read, whatever the state.
 * The constant cancels from every ratio and is added back to log S0 exactly. A term v goes in two
 * words: v itself (quantized by the plan to 2^-24) and its remainder below 2^-24 in units of 2^-24
 * (lowWord; quantized by the plan to 2^-24 again), so the sum carries each term to about 2^-49: the
 * weights of real rows sit far below their bound W, and one 24-bit word would leave them a relative
 * precision of only ~1e-6 (docs/cox.md). Risk sets are the reverse cumulative sums over bins,
 * formed exactly in BigInt in finalize (post-processing): the risk set of the events of bin j is
 * every row in bins ≥ j, as R's coxph sees it on the grid-binned times.
 */
import type { CategoricalColumn, Dataset } from '../dataset.ts';
import { quantize } from '../fixed.ts';
import { ITERATIVE } from '../iterative.ts';
import { QueryError, type Query } from '../query-types.ts';
import { MISSING_LEVEL, type Schema } from '../schema.ts';
import { buildDesign, designRows, timeBin } from './design.ts';
import { coxResultFrom, coxSummarize } from './cox-fit.ts';
import { coxLayout, coxState, etaBound, LOW_BITS, s2Index, WEIGHT, WEIGHT_BITS, type CoxLayout } from './cox-layout.ts';
import type { Entry, FixedSums, KindDef, RowSparse, RowTerms } from './types.ts';
import { numericValues } from './univariate.ts';

/** The names of a bin's weighted sums: S0, S1(term), S2(term*term). */
function weightedNames(L: CoxLayout): string[] {
  const t = L.design.terms;
  const names = ['S0', ...t.map((x) => `S1(${x})`)];
  for (let a = 0; a < L.p; a++) for (let b = a; b < L.p; b++) names.push(a === b ? `S2(${t[a]}^2)` : `S2(${t[a]}*${t[b]})`);
  return names;
}

function layout(q: Query, schema: Schema): Entry[] {
  const L = coxLayout(q, schema);
  const names = weightedNames(L);
  const squares = new Set([0, ...Array.from({ length: L.p }, (_, a) => s2Index(L.p, a, a))]);
  const entries: Entry[] = [];
  for (let j = 0; j < L.K; j++) {
    const at = `bin ${j}`;
    entries.push({ name: `${at}: rows`, bound: 1, integer: true, nonNegative: true });
    entries.push({ name: `${at}: events`, bound: 1, integer: true, nonNegative: true });
    names.forEach((nm, v) => entries.push(squares.has(v) ? { name: `${at}: ${nm}`, bound: WEIGHT, integer: false, nonNegative: true } : { name: `${at}: ${nm}`, bound: WEIGHT, integer: false }));
    for (const nm of names) entries.push({ name: `${at}: ${nm} (low word)`, bound: 0.5, integer: false });
  }
  for (const x of L.design.terms) entries.push({ name: `events: sum(${x})`, bound: 1, integer: false });
  for (const x of L.design.terms) entries.push({ name: `events: sum(${x}) (low word)`, bound: 0.5, integer: false });
  return entries;
}

/** The remainder of v below the grid 2^-LOW_BITS, in units of that grid: in [−1/2, 1/2], exact. */
function lowWord(v: number): number {
  return v * 2 ** LOW_BITS - quantize(v, LOW_BITS);
}

/** A row's terms, sparse: its bin's block (rows, events, m weighted sums in two words) and, for an event, E. */
function rowSparse(q: Query, schema: Schema, dataset: Dataset): { max: number; terms: RowSparse } {
  const L = coxLayout(q, schema);
  const { p, K, m, block, eOffset, edges } = L;
  const times = numericValues(dataset, q.time!);
  const ev = dataset.columns.get(q.event!) as CategoricalColumn | undefined;
  if (!ev || ev.kind !== 'categorical') throw new TypeError(`dataset has no categorical column "${q.event}"`);
  const isEvent = new Uint8Array(ev.levels.length);
  for (const lv of q.positive ?? []) {
    const i = ev.levels.indexOf(lv);
    if (i >= 0) isEvent[i] = 1;
  }
  // A missing event status (also as the level "(missing)" of a column with missing: 'category') excludes the row.
  const missing = ev.levels.indexOf(MISSING_LEVEL);
  const beta = coxState(q, p);
  const B = etaBound(L, beta);
  const design = designRows(L.design, dataset);
  const x = new Float64Array(p);
  const w = new Float64Array(m);
  const terms: RowSparse = (r, index, value) => {
    const time = times[r]!;
    const code = ev.codes[r]!;
    if (Number.isNaN(time) || code < 0 || code === missing || !design(r, x)) return -1;
    const j = timeBin(edges, time);
    if (j >= K) throw new QueryError(`row ${r}: time outside the grid [${edges[0]}, ${edges[K]}]; the dataset holds a value outside the schema bounds (load it with buildDataset)`);
    let eta = 0;
    for (let a = 0; a < p; a++) eta += beta[a]! * x[a]!;
    const w0 = WEIGHT * Math.exp(Math.min(eta - B, 0));
    w[0] = w0;
    let k = 1 + p;
    for (let a = 0; a < p; a++) {
      const wa = w0 * x[a]!;
      w[1 + a] = wa;
      for (let b = a; b < p; b++) w[k++] = wa * x[b]!;
    }
    const o = j * block;
    const event = isEvent[code]!;
    for (let i = 0; i < block; i++) index[i] = o + i;
    value[0] = 1;
    value[1] = event;
    for (let v = 0; v < m; v++) {
      value[2 + v] = w[v]!;
      value[2 + m + v] = lowWord(w[v]!);
    }
    if (!event) return block;
    for (let a = 0; a < p; a++) {
      index[block + a] = eOffset + a;
      value[block + a] = x[a]!;
      index[block + p + a] = eOffset + p + a;
      value[block + p + a] = lowWord(x[a]!);
    }
    return block + 2 * p;
  };
  return { max: block + 2 * p, terms };
}

/** Dense form of rowSparse (the same contributions). */
function rowTerms(q: Query, schema: Schema, dataset: Dataset): RowTerms {
  const { max, terms } = rowSparse(q, schema, dataset);
  const index = new Int32Array(max);
  const value = new Float64Array(max);
  return (r, out) => {
    const k = terms(r, index, value);
    for (let i = 0; i < k; i++) out[index[i]!] = value[i]!;
    return k >= 0;
  };
}

/** The binned risk-set statistics of a round, as float64 (exact integer sums, one rounding each). */
export interface CoxRiskSets {
  n: number;
  /** Per bin: events d_j, rows at risk N_j, and the risk-set sums of the weighted terms (S0, S1, S2 order). */
  d: number[];
  atRisk: number[];
  R: number[][];
  /** Σ over event rows of x̃. */
  E: number[];
}

/** hi/2^s_hi + lo/2^(s_lo + LOW_BITS), formed exactly in BigInt and rounded once. */
function twoWords(hi: bigint, sHi: number, lo: bigint, sLo: number): number {
  const sl = sLo + LOW_BITS;
  if (sHi > sl) return Number(hi) * 2 ** -sHi + Number(lo) * 2 ** -sl;
  return Number(hi * (1n << BigInt(sl - sHi)) + lo) * 2 ** -sl;
}

/** Risk-set sums: reverse cumulative sums over bins of the aggregated blocks, exactly in BigInt. */
export function coxRiskSets(L: CoxLayout, s: FixedSums): CoxRiskSets {
  const { K, p, m, block, eOffset } = L;
  const acc = new Array<bigint>(block).fill(0n);
  const out: CoxRiskSets = { n: 0, d: new Array<number>(K), atRisk: new Array<number>(K), R: new Array<number[]>(K), E: [] };
  for (let j = K - 1; j >= 0; j--) {
    const o = j * block;
    for (let k = 0; k < block; k++) if (k !== 1) acc[k]! += s.sums[o + k]!;
    out.d[j] = Number(s.sums[o + 1]!) * 2 ** -s.scaleBits[o + 1]!;
    out.atRisk[j] = Number(acc[0]!) * 2 ** -s.scaleBits[o]!;
    out.R[j] = Array.from({ length: m }, (_, v) => twoWords(acc[2 + v]!, s.scaleBits[o + 2 + v]!, acc[2 + m + v]!, s.scaleBits[o + 2 + m + v]!));
  }
  out.n = K > 0 ? out.atRisk[0]! : 0;
  out.E = Array.from({ length: p }, (_, a) => twoWords(s.sums[eOffset + a]!, s.scaleBits[eOffset + a]!, s.sums[eOffset + p + a]!, s.scaleBits[eOffset + p + a]!));
  return out;
}

/**
 * Breslow log partial likelihood, score and information at the state from the risk-set sums:
 *   l = β̃·E − Σ_j d_j log(R0_j · e^B / W),   U = E − Σ_j d_j R1_j/R0_j,
 *   I = Σ_j d_j (R2_j/R0_j − R1_j R1_jᵀ/R0_j²),   l(0) = −Σ_j d_j log N_j.
 */
export function coxFromRiskSets(L: CoxLayout, rs: CoxRiskSets, beta: number[]): { loglik: number; loglik0: number; U: number[]; I: number[][]; events: number } {
  const { p, K } = L;
  const B = etaBound(L, beta);
  const logShift = B - WEIGHT_BITS * Math.LN2;
  let loglik = beta.reduce((s, b, a) => s + b * rs.E[a]!, 0);
  let loglik0 = 0;
  let events = 0;
  const U = [...rs.E];
  const I = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  for (let j = 0; j < K; j++) {
    const d = rs.d[j]!;
    if (d === 0) continue;
    events += d;
    const R = rs.R[j]!;
    const r0 = R[0]!;
    loglik -= d * (Math.log(r0) + logShift);
    loglik0 -= d * Math.log(rs.atRisk[j]!);
    const mean = Array.from({ length: p }, (_, a) => R[1 + a]! / r0);
    for (let a = 0; a < p; a++) {
      U[a]! -= d * mean[a]!;
      for (let b = a; b < p; b++) {
        const v = d * (R[s2Index(p, a, b)]! / r0 - mean[a]! * mean[b]!);
        I[a]![b]! += v;
        if (b !== a) I[b]![a]! += v;
      }
    }
  }
  return { loglik, loglik0, U, I, events };
}

export const cox: KindDef = {
  layout,
  rowTerms,
  rowSparse,
  finalize: (q, schema, s) => {
    const L = coxLayout(q, schema);
    const rs = coxRiskSets(L, s);
    const beta = coxState(q, L.p);
    const res = coxResultFrom(q, L, { n: rs.n, ...coxFromRiskSets(L, rs, beta) });
    const coarsest = L.K > 0 ? s.scaleBits[2]! : LOW_BITS;
    if (coarsest < LOW_BITS) {
      res.notes.push(`the plan's grid for the weighted sums is 2^-${coarsest}, coarser than 2^-${LOW_BITS} (a ${coarsest < 8 ? '32-bit ring' : 'ring too small for these rows'}): each row's weight is off by up to 2^-${coarsest + 1} of ${WEIGHT}; use a 64-bit ring`);
    }
    return res;
  },
};

ITERATIVE['cox'] = {
  initialState: (q, schema) => new Array<number>(buildDesign(q.columns, schema).terms.length).fill(0),
  summarize: coxSummarize,
};
