/**
 * Central (non-private) reference: a straightforward float64 computation on the raw rows,
 * written independently of the kinds' sufficient statistics so that tests compare two
 * implementations. Two-pass mean/variance, centred cross-products, least squares by
 * Householder QR of the design matrix [1, x_1..x_p].
 */
import { centralKaplanMeier } from './central-km.ts';
import { DROP_REASONS, type Dataset } from './dataset.ts';
import { centralGlm } from './central-glm.ts';
import { centralCoxFit } from './kinds/cox-fit.ts';
import { centralTrainRound } from './kinds/train-round.ts';
import { centralTrainEvaluate } from './central-train-evaluate.ts';
import { matchRows } from './filter.ts';
import type { QueryResult } from './kinds/types.ts';
import { QueryError, validateQuery } from './query.ts';
import type { Query } from './query.ts';
import { findColumn, levelsOf, MISSING_LEVEL } from './schema.ts';
import type { Schema } from './schema.ts';

/** Rows passing the filter with every listed column present (complete cases). */
function completeRows(dataset: Dataset, q: Query, cols: string[]): number[] {
  const mask = matchRows(dataset, q.filter);
  const rows: number[] = [];
  outer: for (let r = 0; r < dataset.rowCount; r++) {
    if (!mask[r]) continue;
    for (const c of cols) {
      const col = dataset.columns.get(c)!;
      if (col.kind === 'numeric' ? Number.isNaN(col.values[r]!) : col.codes[r]! < 0) continue outer;
    }
    rows.push(r);
  }
  return rows;
}

function column(dataset: Dataset, name: string, rows: number[]): number[] {
  const col = dataset.columns.get(name);
  if (!col || col.kind !== 'numeric') throw new TypeError(`central: "${name}" is not a numeric column`);
  return rows.map((r) => col.values[r]!);
}

function meanOf(x: number[]): number {
  let s = 0;
  for (const v of x) s += v;
  return s / x.length;
}

function centredCross(x: number[], y: number[]): number {
  const mx = meanOf(x);
  const my = meanOf(y);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i]! - mx) * (y[i]! - my);
  return s;
}

/** Householder QR least squares: returns β, RSS and (RᵀR)⁻¹ diagonal, or null if rank deficient. */
function leastSquares(X: number[][], y: number[]): { beta: number[]; rss: number; invDiag: number[] } | null {
  const n = X.length;
  const p = X[0]!.length;
  const A = X.map((row) => [...row]);
  const b = [...y];
  const norms: number[] = [];
  for (let j = 0; j < p; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += A[i]![j]! ** 2;
    norms.push(Math.sqrt(s));
  }
  for (let k = 0; k < p; k++) {
    let norm = 0;
    for (let i = k; i < n; i++) norm += A[i]![k]! ** 2;
    norm = Math.sqrt(norm);
    if (!(norm > 1e-10 * norms[k]!)) return null;
    const alpha = A[k]![k]! > 0 ? -norm : norm;
    const v = new Array<number>(n).fill(0);
    v[k] = A[k]![k]! - alpha;
    for (let i = k + 1; i < n; i++) v[i] = A[i]![k]!;
    let vv = 0;
    for (let i = k; i < n; i++) vv += v[i]! ** 2;
    if (vv === 0) continue;
    for (let j = k; j < p; j++) {
      let d = 0;
      for (let i = k; i < n; i++) d += v[i]! * A[i]![j]!;
      const f = (2 * d) / vv;
      for (let i = k; i < n; i++) A[i]![j] = A[i]![j]! - f * v[i]!;
    }
    let d = 0;
    for (let i = k; i < n; i++) d += v[i]! * b[i]!;
    const f = (2 * d) / vv;
    for (let i = k; i < n; i++) b[i] = b[i]! - f * v[i]!;
  }
  const beta = new Array<number>(p).fill(0);
  for (let i = p - 1; i >= 0; i--) {
    let s = b[i]!;
    for (let j = i + 1; j < p; j++) s -= A[i]![j]! * beta[j]!;
    beta[i] = s / A[i]![i]!;
  }
  let rss = 0;
  for (let i = p; i < n; i++) rss += b[i]! ** 2;
  // R⁻¹ by back substitution; (RᵀR)⁻¹ = R⁻¹ R⁻ᵀ, diagonal = row sums of squares of R⁻¹.
  const Rinv = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  for (let c = 0; c < p; c++) {
    for (let i = p - 1; i >= 0; i--) {
      let s = i === c ? 1 : 0;
      for (let j = i + 1; j < p; j++) s -= A[i]![j]! * Rinv[j]![c]!;
      Rinv[i]![c] = s / A[i]![i]!;
    }
  }
  const invDiag = Rinv.map((row) => row.reduce((a, v) => a + v * v, 0));
  return { beta, rss, invDiag };
}

function categoricalCodes(dataset: Dataset, name: string): Int32Array {
  const col = dataset.columns.get(name);
  if (!col || col.kind !== 'categorical') throw new TypeError(`central: "${name}" is not a categorical column`);
  return col.codes;
}

/** Whether row r has no categorical column of `cols` at its "(missing)" level. */
function noMissingLevel(dataset: Dataset, cols: string[], r: number): boolean {
  return cols.every((c) => {
    const col = dataset.columns.get(c)!;
    return col.kind === 'numeric' || col.levels[col.codes[r]!] !== MISSING_LEVEL;
  });
}

/** The variables of `cols` on `rows`: numeric columns as they are, categorical ones by treatment coding (written here on the raw codes). */
function design(dataset: Dataset, cols: string[], rows: number[]): { names: string[]; xs: number[][] } {
  const names: string[] = [];
  const xs: number[][] = [];
  for (const c of cols) {
    const col = dataset.columns.get(c)!;
    if (col.kind === 'numeric') {
      names.push(c);
      xs.push(column(dataset, c, rows));
      continue;
    }
    for (let code = 1; code < col.levels.length; code++) {
      if (col.levels[code] === MISSING_LEVEL) continue;
      names.push(`${c}${col.levels[code]}`);
      xs.push(rows.map((r) => (col.codes[r] === code ? 1 : 0)));
    }
  }
  return { names, xs };
}

/** population on one dataset: its load figures as the DatasetBuilder counted them (no cap: one party's load). */
function centralPopulation(dataset: Dataset): QueryResult {
  const p = dataset.population;
  if (!p) throw new QueryError('population: this dataset carries no load figures (it was not built from a source by the DatasetBuilder)');
  const droppedTotal = DROP_REASONS.reduce((a, r) => a + p.dropped[r], 0);
  const notes: string[] = [];
  if (droppedTotal > 0) notes.push(`${droppedTotal} row(s) read from the sources were excluded by the schema (${DROP_REASONS.filter((r) => p.dropped[r] !== 0).map((r) => `${r}: ${p.dropped[r]}`).join(', ')}): every query runs on the ${p.loaded} loaded rows`);
  if (p.clipped > 0) notes.push(`${p.clipped} loaded row(s) have a value clipped to its column's bounds (outOfBounds: 'clip')`);
  return { kind: 'population', n: p.loaded, loaded: p.loaded, dropped: { ...p.dropped }, droppedTotal, clipped: p.clipped, notes };
}

/** The query answered directly on the raw rows (float64). */
export function centralResult(q: Query, schema: Schema, dataset: Dataset): QueryResult {
  validateQuery(q, schema);
  if (q.kind === 'logistic_regression' || q.kind === 'poisson_regression') return centralGlm(q, schema, dataset);
  if (q.kind === 'population') return centralPopulation(dataset);
  // marginal: missing is a level of every column, so no row is dropped for a missing value.
  const involved = q.kind === 'linear_regression' ? [...q.columns, q.target!] : q.kind === 'marginal' ? [] : q.columns;
  const rows = completeRows(dataset, q, involved);
  const n = rows.length;
  const notes: string[] = [];
  const c0 = q.columns[0]!;
  switch (q.kind) {
    case 'count':
      return { kind: 'count', n, notes };
    case 'sum': {
      const x = column(dataset, c0, rows);
      return { kind: 'sum', column: c0, n, sum: x.reduce((a, b) => a + b, 0), notes };
    }
    case 'mean': {
      if (n === 0) notes.push('mean undefined: no rows (n = 0)');
      return { kind: 'mean', column: c0, n, mean: n > 0 ? meanOf(column(dataset, c0, rows)) : null, notes };
    }
    case 'variance': {
      const x = column(dataset, c0, rows);
      if (n === 0) notes.push('mean undefined: no rows (n = 0)');
      if (n < 2) notes.push(`variance undefined: needs n >= 2, got n = ${n}`);
      const v = n >= 2 ? centredCross(x, x) / (n - 1) : null;
      return { kind: 'variance', column: c0, n, mean: n > 0 ? meanOf(x) : null, variance: v, sd: v === null ? null : Math.sqrt(v), notes };
    }
    case 'histogram': {
      const x = column(dataset, c0, rows);
      const e = q.bins!;
      const k = e.length - 1;
      const counts = new Array<number>(k).fill(0);
      let below = 0;
      let above = 0;
      for (const v of x) {
        if (v < e[0]!) below++;
        else if (v > e[k]!) above++;
        else {
          let i = 0;
          while (i < k - 1 && v >= e[i + 1]!) i++;
          counts[i]!++;
        }
      }
      return { kind: 'histogram', column: c0, n, edges: [...e], counts, below, above, notes };
    }
    case 'frequency': {
      const levels = levelsOf(findColumn(schema, c0)!);
      const codes = categoricalCodes(dataset, c0);
      const counts = new Array<number>(levels.length).fill(0);
      for (const r of rows) counts[codes[r]!]!++;
      return { kind: 'frequency', column: c0, n, levels, counts, notes };
    }
    case 'contingency': {
      const c1 = q.columns[1]!;
      const rowLevels = levelsOf(findColumn(schema, c0)!);
      const colLevels = levelsOf(findColumn(schema, c1)!);
      const a = categoricalCodes(dataset, c0);
      const b = categoricalCodes(dataset, c1);
      const counts = rowLevels.map(() => new Array<number>(colLevels.length).fill(0));
      for (const r of rows) counts[a[r]!]![b[r]!]!++;
      return { kind: 'contingency', rowColumn: c0, colColumn: c1, n, rowLevels, colLevels, counts, notes };
    }
    case 'covariance':
    case 'correlation': {
      // Complete cases and treatment coding as for linear_regression (a categorical column is its
      // level indicators, "(missing)" missing); the variables are labelled as R's model.matrix does.
      const cc = rows.filter((r) => noMissingLevel(dataset, q.columns, r));
      const n = cc.length;
      const { names, xs } = design(dataset, q.columns, cc);
      const m = xs.length;
      const nullMatrix = (): (number | null)[][] => xs.map(() => new Array<number | null>(m).fill(null));
      if (n < 2) {
        notes.push(`${q.kind} undefined: needs n >= 2, got n = ${n}`);
        if (q.kind === 'covariance') return { kind: 'covariance', columns: names, n, means: xs.map((x) => (n > 0 ? meanOf(x) : null)), matrix: nullMatrix(), notes };
        return { kind: 'correlation', columns: names, n, matrix: nullMatrix(), notes };
      }
      const C = xs.map((a) => xs.map((b) => centredCross(a, b)));
      if (q.kind === 'covariance') {
        return { kind: 'covariance', columns: names, n, means: xs.map(meanOf), matrix: C.map((r) => r.map((c) => c / (n - 1))), notes };
      }
      const matrix = nullMatrix();
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < m; j++) {
          const d = Math.sqrt(C[i]![i]! * C[j]![j]!);
          if (d > 0) matrix[i]![j] = i === j ? 1 : C[i]![j]! / d;
        }
        if (!(C[i]![i]! > 0)) notes.push(`correlations with ${names[i]} undefined: zero variance`);
      }
      return { kind: 'correlation', columns: names, n, matrix, notes };
    }
    case 'linear_regression': {
      // Complete cases, a categorical predictor's "(missing)" level counting as missing (R's lm drops
      // NA); then its treatment coding, written here on the raw codes: an indicator per level but the first.
      const cc = rows.filter((r) => noMissingLevel(dataset, q.columns, r));
      const { names, xs } = design(dataset, q.columns, cc);
      const n = cc.length;
      const p = xs.length;
      if (n < p + 1) throw new QueryError(`linear_regression: ${p + 1} coefficients need at least ${p + 1} complete rows, got n = ${n}`);
      const y = column(dataset, q.target!, cc);
      const X = cc.map((_, i) => [1, ...xs.map((x) => x[i]!)]);
      const fit = leastSquares(X, y);
      if (!fit) throw new QueryError(`linear_regression: design matrix is rank deficient among [${names.join(', ')}]`);
      const df = n - p - 1;
      const tss = centredCross(y, y);
      let ses: (number | null)[] = new Array<number | null>(p + 1).fill(null);
      let sigma: number | null = null;
      if (df > 0) {
        const s2 = fit.rss / df;
        sigma = Math.sqrt(s2);
        ses = fit.invDiag.map((d) => Math.sqrt(s2 * d));
      } else notes.push('standard errors and residual standard error undefined: no residual degrees of freedom (n = p)');
      if (!(tss > 0)) notes.push(`R² undefined: target ${q.target} has zero variance`);
      return {
        kind: 'linear_regression', target: q.target!, n, terms: ['(intercept)', ...names],
        coefficients: fit.beta, standardErrors: ses, residualStdError: sigma,
        rSquared: tss > 0 ? 1 - fit.rss / tss : null, dfResidual: df, notes,
      };
    }
    case 'cox':
      // The fit (a job's answer); centralCox evaluates one round at q.state.
      return centralCoxFit(q, schema, dataset);
    case 'train_round':
      return centralTrainRound(q, schema, dataset);
    case 'train_evaluate':
      return centralTrainEvaluate(q, schema, dataset);
    case 'marginal': {
      // Each row's level label per column, then a count per tuple of labels.
      const levels: string[][] = [];
      const labels = q.columns.map((name, i) => {
        const spec = findColumn(schema, name)!;
        const col = dataset.columns.get(name)!;
        if (col.kind === 'categorical') {
          const lv = levelsOf(spec);
          levels.push(spec.missing === 'category' ? lv : [...lv, MISSING_LEVEL]);
          return rows.map((r) => (col.codes[r]! < 0 ? MISSING_LEVEL : lv[col.codes[r]!]!));
        }
        const e = q.edges![i]!;
        const k = e.length - 1;
        const names = Array.from({ length: k }, (_, j) => `[${e[j]}, ${e[j + 1]}${j === k - 1 ? ']' : ')'}`);
        levels.push([...names, MISSING_LEVEL]);
        return rows.map((r) => {
          const v = col.values[r]!;
          if (Number.isNaN(v)) return MISSING_LEVEL;
          let j = 0;
          while (j < k - 1 && v >= e[j + 1]!) j++;
          return names[j]!;
        });
      });
      const tables = (q.tables ?? [q.columns.map((_, i) => i)]).map((t) => {
        const tally = new Map<string, number>();
        for (let r = 0; r < n; r++) {
          const key = JSON.stringify(t.map((i) => labels[i]![r]));
          tally.set(key, (tally.get(key) ?? 0) + 1);
        }
        let keys: string[][] = [[]];
        for (const i of t) keys = keys.flatMap((prefix) => levels[i]!.map((l) => [...prefix, l]));
        return { columns: [...t], counts: keys.map((k) => tally.get(JSON.stringify(k)) ?? 0) };
      });
      return { kind: 'marginal', columns: [...q.columns], levels, tables, n, notes };
    }
    case 'kaplan_meier':
      return centralKaplanMeier(q, schema, dataset);
  }
}
