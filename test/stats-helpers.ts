/**
 * Test helpers for the statistics library: loading the examples, and error bounds derived from
 * the fixed-point grid. Each row's term of entry i is off by at most half a grid step
 * 2^-(s_i+1), so the aggregated entry is off by at most δ_i = n · 2^-(s_i+1) (0 for integer
 * entries). The bounds below propagate δ to every result field (first order, plus a float64
 * allowance) so a test can require |federated − central| ≤ bound field by field.
 */
import { readFileSync } from 'node:fs';
import { buildDataset, matchRows, numericFields, parseSchema } from '../stats/index.ts';
import type { Dataset, Plan, Query, QueryResult, Schema } from '../stats/index.ts';
import { momentVars } from '../stats/kinds/moments.ts';

export function loadExample(name: 'pbc' | 'flchain'): { schema: Schema; dataset: Dataset; csv: string } {
  const schema = parseSchema(JSON.parse(readFileSync(new URL(`../examples/${name}/schema.json`, import.meta.url), 'utf8')));
  const csv = readFileSync(new URL(`../examples/${name}/${name}.csv`, import.meta.url), 'utf8');
  const { dataset } = buildDataset(schema, csv, { strict: true });
  return { schema, dataset, csv };
}

/** Complete-case columns of the query's numeric variables, straight from the dataset. */
function rawColumns(q: Query, dataset: Dataset): number[][] {
  const vars = q.kind === 'linear_regression' ? [...q.columns, q.target!] : q.columns;
  const mask = matchRows(dataset, q.filter);
  const cols = vars.map((v) => dataset.columns.get(v)!);
  const out: number[][] = vars.map(() => []);
  for (let r = 0; r < dataset.rowCount; r++) {
    if (!mask[r]) continue;
    if (cols.some((c) => (c.kind === 'numeric' ? Number.isNaN(c.values[r]!) : c.codes[r]! < 0))) continue;
    cols.forEach((c, i) => out[i]!.push(c.kind === 'numeric' ? c.values[r]! : c.codes[r]!));
  }
  return out;
}

const FLOAT = 1e-9; // relative float64 allowance (rounding of long sums, one-pass vs two-pass)

function centred(a: number[], b: number[]): number {
  const ma = a.reduce((s, x) => s + x, 0) / a.length;
  const mb = b.reduce((s, x) => s + x, 0) / b.length;
  return a.reduce((s, x, i) => s + (x - ma) * (b[i]! - mb), 0);
}


function invert(A: number[][]): number[][] {
  const p = A.length;
  const M = A.map((r, i) => [...r, ...A.map((_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < p; c++) {
    let piv = c;
    for (let r = c + 1; r < p; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[piv]![c]!)) piv = r;
    [M[c], M[piv]] = [M[piv]!, M[c]!];
    const d = M[c]![c]!;
    for (let j = 0; j < 2 * p; j++) M[c]![j]! /= d;
    for (let r = 0; r < p; r++) {
      if (r === c) continue;
      const f = M[r]![c]!;
      for (let j = 0; j < 2 * p; j++) M[r]![j]! -= f * M[c]![j]!;
    }
  }
  return M.map((r) => r.slice(p));
}

/** |Δ(Cxx⁻¹)_jk| ≤ Σ_ab |inv_ja| |ΔC_ab| |inv_bk| (first order). */
function dInvDiagFull(inv: number[][], dC: (a: number, b: number) => number, j: number, k: number): number {
  let t = 0;
  for (let a = 0; a < inv.length; a++) for (let b = 0; b < inv.length; b++) t += Math.abs(inv[j]![a]!) * dC(a, b) * Math.abs(inv[b]![k]!);
  return t;
}

/**
 * Per-field absolute tolerance (aligned with numericFields(central)) for comparing finalize of
 * the federated sums with centralResult.
 */
export function gridTolerance(q: Query, plan: Plan, central: QueryResult, dataset: Dataset, schema: Schema): number[] {
  const n = central.n;
  const delta = plan.entries.map((e, i) => (e.integer ? 0 : n * 2 ** -(plan.scaleBits[i]! + 1)));
  const fields = numericFields(central);
  const fl = (x: number | null): number => FLOAT * Math.abs(x ?? 0) + 1e-12;
  if (['count', 'histogram', 'frequency', 'contingency'].includes(q.kind)) return fields.map(() => 0);
  const xs = rawColumns(q, dataset);
  const m = xs.length;
  // Moment kinds sum v − c (c: the public centre of the column's bounds, stats/kinds/moments.ts),
  // so the first-moment grid error enters the centred products scaled by |v̄ − c|, not |v̄|.
  const names = q.kind === 'linear_regression' ? [...q.columns, q.target!] : q.columns;
  const shifted = ['mean', 'variance', 'covariance', 'correlation', 'linear_regression'].includes(q.kind);
  const centre = names.map((c) => (shifted ? momentVars(schema, [c])[0]?.centre ?? 0 : 0));
  const rawMeans = xs.map((x) => x.reduce((s, v) => s + v, 0) / x.length);
  const means = rawMeans.map((m, i) => m - centre[i]!);
  // Moment vector indices: n, Σv_i (1+i), Σv_i v_j (upper triangle).
  const prodIdx = (i: number, j: number): number => {
    const [a, b] = i <= j ? [i, j] : [j, i];
    return 1 + m + a * m - (a * (a - 1)) / 2 + (b - a);
  };
  // |ΔC_ij| for the centred cross-product Σ(v_i − v̄_i)(v_j − v̄_j).
  const dC = (i: number, j: number): number =>
    delta[prodIdx(i, j)]! + Math.abs(means[i]!) * delta[1 + j]! + Math.abs(means[j]!) * delta[1 + i]! + (delta[1 + i]! * delta[1 + j]!) / n;
  const C = xs.map((a) => xs.map((b) => centred(a, b)));
  switch (q.kind) {
    case 'sum': return fields.map(([k, v]) => (k === 'sum' ? delta[1]! : 0) + fl(v));
    case 'mean': return fields.map(([k, v]) => (k === 'mean' ? delta[1]! / n : 0) + fl(v));
    case 'variance': {
      const dv = dC(0, 0) / (n - 1);
      const sd = Math.sqrt(C[0]![0]! / (n - 1));
      return fields.map(([k, v]) => ({ n: 0, mean: delta[1]! / n, variance: dv, sd: dv / sd })[k]! + fl(v));
    }
    case 'covariance':
      return fields.map(([k, v]) => {
        const mm = /^means\[(\d+)\]$/.exec(k);
        if (mm) return delta[1 + Number(mm[1])]! / n + fl(v);
        const mx = /^matrix\[(\d+)\]\[(\d+)\]$/.exec(k);
        if (mx) return dC(Number(mx[1]), Number(mx[2])) / (n - 1) + fl(v);
        return fl(v);
      });
    case 'correlation':
      return fields.map(([k, v]) => {
        const mx = /^matrix\[(\d+)\]\[(\d+)\]$/.exec(k);
        if (!mx) return fl(v);
        const [i, j] = [Number(mx[1]), Number(mx[2])];
        const d = Math.sqrt(C[i]![i]! * C[j]![j]!);
        return 2 * (dC(i, j) / d + Math.abs(v ?? 0) * (dC(i, i) / C[i]![i]! + dC(j, j) / C[j]![j]!)) + fl(v);
      });
    case 'linear_regression': {
      // First-order perturbation of Cxx β = cxy: Δβ = Cxx⁻¹ (Δcxy − ΔCxx β), bounded entrywise
      // with |ΔC|; Δ(Cxx⁻¹) = −Cxx⁻¹ ΔCxx Cxx⁻¹ likewise; RSS = cyy − βᵀcxy.
      const p = m - 1;
      const Cxx = C.slice(0, p).map((r) => r.slice(0, p));
      const cxy = C.slice(0, p).map((r) => r[p]!);
      const inv = invert(Cxx);
      const beta = inv.map((r) => r.reduce((s, x, j) => s + x * cxy[j]!, 0));
      const dr = beta.map((_, k) => dC(k, p) + beta.reduce((s, b, l) => s + dC(k, l) * Math.abs(b), 0));
      const dBeta = inv.map((r) => r.reduce((s, x, k) => s + Math.abs(x) * dr[k]!, 0));
      const dInvDiag = inv.map((_, j) => {
        let t = 0;
        for (let k = 0; k < p; k++) for (let l = 0; l < p; l++) t += Math.abs(inv[j]![k]!) * dC(k, l) * Math.abs(inv[l]![j]!);
        return t;
      });
      const xbar = rawMeans.slice(0, p);
      // intercept = ȳ − βᵀx̄; its variance factor 1/n + x̄ᵀCxx⁻¹x̄
      const dIntercept = delta[1 + p]! / n + dBeta.reduce((s, d, j) => s + d * Math.abs(xbar[j]!), 0)
        + beta.reduce((s, b, j) => s + (Math.abs(b) * delta[1 + j]!) / n, 0);
      const f0 = 1 / n + xbar.reduce((s, a, j) => s + a * inv[j]!.reduce((t, x, k) => t + x * xbar[k]!, 0), 0);
      let df0 = 0;
      for (let j = 0; j < p; j++) for (let k = 0; k < p; k++) df0 += Math.abs(xbar[j]!) * Math.abs(xbar[k]!) * dInvDiagFull(inv, dC, j, k);
      const rss = C[p]![p]! - beta.reduce((s, b, i) => s + b * cxy[i]!, 0);
      const dRss = dC(p, p) + dBeta.reduce((s, d, i) => s + d * Math.abs(cxy[i]!), 0) + beta.reduce((s, b, i) => s + Math.abs(b) * dC(i, p), 0);
      const relSigma = dRss / (2 * rss);
      return fields.map(([key, v]) => {
        const cm = /^coefficients\[(\d+)\]$/.exec(key);
        if (cm) return 2 * (cm[1] === '0' ? dIntercept : dBeta[Number(cm[1]) - 1]!) + fl(v);
        const sm = /^standardErrors\[(\d+)\]$/.exec(key);
        if (sm) {
          const j = Number(sm[1]);
          const relFactor = j === 0 ? df0 / (2 * f0) : dInvDiag[j - 1]! / (2 * inv[j - 1]![j - 1]!);
          return 2 * (relSigma + relFactor) * Math.abs(v ?? 0) + fl(v);
        }
        if (key === 'residualStdError') return 2 * relSigma * Math.abs(v ?? 0) + fl(v);
        if (key === 'rSquared') return 2 * (dRss / C[p]![p]! + (rss * dC(p, p)) / C[p]![p]! ** 2) + fl(v);
        return fl(v);
      });
    }
    default:
      throw new Error(`no tolerance for ${q.kind}`);
  }
}
