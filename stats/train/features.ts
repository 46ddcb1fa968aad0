/**
 * Feature encoding of a training job, from the schema only (the width d and the names are public
 * before any data is read), then applied to a party's dataset.
 *
 * - A numeric or integer column x with schema bounds [a, b] becomes x̃ = (x − c)/s with
 *   c = (a + b)/2, s = (b − a)/2, so |x̃| ≤ 1 on every row (the loader keeps values inside the
 *   bounds): the same standardization as the GLM kinds (stats/kinds/design.ts, `buildDesign`).
 * - A categorical column becomes 0/1 indicators, in one of two documented codings:
 *   `treatment` (default): one indicator per level except the first (R's contrasts, the GLM
 *   kinds' terms, e.g. `sexM`), so a logistic model's coefficients are those of the exact
 *   federated logistic_regression; `one-hot`: one indicator per level (all levels, e.g. `sexF`,
 *   `sexM`), the usual input of a neural network. A column declared with missing: 'category'
 *   has the level "(missing)" last, like any other level.
 * - The target is a categorical column. Binary (with `positive`): a row is 1 when its level is
 *   one of `positive`, else 0 (as logistic_regression: stats/kinds/glm.ts). Multi-class (without
 *   `positive`): the label is the level's index in the schema's order (0 … K − 1, K = the
 *   column's levels, "(missing)" last for missing: 'category'), for a softmax model.
 * - Rows: those matching the filter (`matchRows`, stats/filter.ts) that are complete cases (no
 *   predictor and no target missing).
 *
 * Every encoded feature lies in [−1, 1], so ‖x‖₂ ≤ √d: the bound that norms of gradients are
 * planned from.
 */
import type { CategoricalColumn, Dataset, NumericColumn } from '../dataset.ts';
import { matchRows } from '../filter.ts';
import { QueryError, quote, type Predicate } from '../query-types.ts';
import { findColumn, levelsOf, type Schema } from '../schema.ts';
import { MAX_CLASSES } from './model.ts';

export type CategoricalCoding = 'treatment' | 'one-hot';

/** What a training plan says about its data: predictors, target, filter, coding. */
export interface FeatureSpec {
  /** Predictor columns (numeric, integer or categorical), each at most once. */
  columns: string[];
  /** The target column: categorical. */
  target: string;
  /** The target's levels that count as 1 (binary); omitted: one class per level (softmax). */
  positive?: string[];
  /** Rows used: those matching every predicate (default: all). */
  filter?: Predicate[];
  /** Coding of categorical predictors (default 'treatment'). */
  coding?: CategoricalCoding;
}

/** One input feature: from `column`, either x̃ = (x − center)/scale or the indicator of `level`. */
export type Feature =
  | { name: string; column: string; kind: 'numeric'; center: number; scale: number }
  | { name: string; column: string; kind: 'indicator'; level: number };

/** The public encoding: the d features in order (the columns of X). */
export interface FeatureEncoding {
  features: Feature[];
  names: string[];
  d: number;
  target: string;
  /** Binary: the positive levels; multi-class: null. */
  positive: string[] | null;
  /** 2 for a binary target, else the number of the target's levels. */
  classes: number;
  /** Class names: ['0', '1'] for binary, else the target's levels. */
  classNames: string[];
  coding: CategoricalCoding;
}

/** A party's encoded rows: X is row-major, rows × d; y[i] ∈ {0, 1} (binary) or {0, …, K − 1}. */
export interface EncodedData {
  X: Float64Array;
  y: Float64Array;
  rows: number;
  d: number;
  classes: number;
  names: string[];
}

/** Most predictor columns and features a training plan may have. */
export const MAX_TRAIN_COLUMNS = 50;
export const MAX_FEATURES = 1000;

/** The encoding of a feature spec under a schema (QueryError for a spec that does not fit it). */
export function featureEncoding(spec: FeatureSpec, schema: Schema): FeatureEncoding {
  const coding = spec.coding ?? 'treatment';
  if (coding !== 'treatment' && coding !== 'one-hot') throw new QueryError(`coding: ${quote(coding)} is not 'treatment' or 'one-hot'`);
  if (spec.columns.length === 0 || spec.columns.length > MAX_TRAIN_COLUMNS) {
    throw new QueryError(`a model takes between 1 and ${MAX_TRAIN_COLUMNS} predictor columns, got ${spec.columns.length}`);
  }
  if (new Set(spec.columns).size !== spec.columns.length) throw new QueryError('columns: a predictor column is listed twice');
  const t = findColumn(schema, spec.target);
  if (!t) throw new QueryError(`target: unknown column ${quote(spec.target)}`);
  if (t.type !== 'categorical') throw new QueryError(`target: "${t.name}" is ${t.type}; a classifier's target is a categorical column with positive levels`);
  if (spec.columns.includes(spec.target)) throw new QueryError(`target ${quote(spec.target)} is also a predictor`);
  const tl = levelsOf(t);
  if (tl.length < 2) throw new QueryError(`target: "${t.name}" has ${tl.length} level; a classifier needs at least two`);
  const positive = spec.positive;
  if (positive !== undefined) {
    if (positive.length === 0) throw new QueryError(`positive: name the levels of "${t.name}" that count as 1 (levels: ${tl.join(', ')}), or omit it for one class per level`);
    for (const lv of positive) if (!tl.includes(lv)) throw new QueryError(`positive: ${quote(lv)} is not a level of "${t.name}"; levels: ${tl.join(', ')}`);
    if (new Set(positive).size >= tl.length) throw new QueryError(`positive: every level of "${t.name}" is positive; the target would be constant`);
  } else if (tl.length > MAX_CLASSES) {
    throw new QueryError(`target: "${t.name}" has ${tl.length} levels, more than the ${MAX_CLASSES} classes a model may have; name the positive levels for a binary target`);
  }
  const features: Feature[] = [];
  spec.columns.forEach((name, i) => {
    const c = findColumn(schema, name);
    if (!c) throw new QueryError(`columns[${i}]: unknown column ${quote(name)}`);
    if (c.type === 'identifier') throw new QueryError(`columns[${i}]: "${name}" is an identifier; identifiers are never used`);
    if (c.type === 'categorical') {
      const levels = levelsOf(c);
      if (levels.length < 2) throw new QueryError(`columns[${i}]: categorical "${name}" has ${levels.length} level; a predictor needs at least two`);
      levels.forEach((lv, code) => {
        if (coding === 'treatment' && code === 0) return;
        features.push({ name: `${name}${lv}`, column: name, kind: 'indicator', level: code });
      });
    } else {
      const a = c.min!;
      const b = c.max!;
      features.push({ name, column: name, kind: 'numeric', center: (a + b) / 2, scale: (b - a) / 2 });
    }
  });
  if (features.length > MAX_FEATURES) throw new QueryError(`the columns give ${features.length} features, more than ${MAX_FEATURES}`);
  return {
    features, names: features.map((f) => f.name), d: features.length, target: spec.target, coding,
    positive: positive ? [...positive] : null, classes: positive ? 2 : tl.length, classNames: positive ? ['0', '1'] : tl,
  };
}

/**
 * The encoder of one dataset row under an encoding: writes the row's d features into `x` and
 * returns its label (the positive indicator, or the class index), or NaN when the row is not a
 * complete case (target or a feature missing). One definition for encodeDataset and the
 * training-round kind (stats/kinds/train-round.ts).
 */
export function rowEncoder(enc: FeatureEncoding, dataset: Dataset): (row: number, x: Float64Array) => number {
  const target = dataset.columns.get(enc.target);
  if (!target) throw new TypeError(`encodeDataset: the dataset has no column "${enc.target}"`);
  if (target.kind !== 'categorical') throw new TypeError(`encodeDataset: target "${enc.target}" is not categorical in the dataset`);
  const pos = enc.positive ? new Set(enc.positive.map((lv) => target.levels.indexOf(lv))) : null;
  const predictors = predictorEncoder(enc, dataset);
  return (r, x) => {
    const code = target.codes[r]!;
    if (code < 0 || !predictors(r, x)) return NaN;
    return pos ? (pos.has(code) ? 1 : 0) : code;
  };
}

/** A row's features alone (prediction needs no target): writes x and returns false when a predictor is missing. */
export function predictorEncoder(enc: FeatureEncoding, dataset: Dataset): (row: number, x: Float64Array) => boolean {
  const cols = enc.features.map((f) => {
    const c = dataset.columns.get(f.column);
    if (!c) throw new TypeError(`encodeDataset: the dataset has no column "${f.column}"`);
    return c;
  });
  return (r, x) => {
    for (let j = 0; j < enc.d; j++) {
      const f = enc.features[j]!;
      const c = cols[j]!;
      if (f.kind === 'numeric') {
        const v = (c as NumericColumn).values[r]!;
        if (Number.isNaN(v)) return false;
        x[j] = (v - f.center) / f.scale;
      } else {
        const k = (c as CategoricalColumn).codes[r]!;
        if (k < 0) return false;
        x[j] = k === f.level ? 1 : 0;
      }
    }
    return true;
  };
}

/** Encodes a dataset's rows (filter, complete cases) under an encoding. */
export function encodeDataset(enc: FeatureEncoding, dataset: Dataset, filter: Predicate[] = []): EncodedData {
  const encode = rowEncoder(enc, dataset);
  const mask = matchRows(dataset, filter);
  const d = enc.d;
  const x = new Float64Array(d);
  const X: number[] = [];
  const y: number[] = [];
  for (let r = 0; r < dataset.rowCount; r++) {
    if (!mask[r]) continue;
    const label = encode(r, x);
    if (Number.isNaN(label)) continue;
    for (let j = 0; j < d; j++) X.push(x[j]!);
    y.push(label);
  }
  return { X: Float64Array.from(X), y: Float64Array.from(y), rows: y.length, d, classes: enc.classes, names: [...enc.names] };
}

/** featureEncoding then encodeDataset with the spec's filter. */
export function encodeFeatures(spec: FeatureSpec, schema: Schema, dataset: Dataset): EncodedData & { encoding: FeatureEncoding } {
  const encoding = featureEncoding(spec, schema);
  return { ...encodeDataset(encoding, dataset, spec.filter ?? []), encoding };
}

/**
 * A binary logistic model's coefficients on the original scale of its columns, intercept first
 * (as R's glm reports them): β_j = w_j/s_j for a numeric feature (1 for an indicator) and
 * β₀ = b − Σ_j w_j c_j/s_j. `params` is the logistic layout [w₁, …, w_d, b].
 */
export function originalScaleCoefficients(enc: FeatureEncoding, params: ArrayLike<number>): { terms: string[]; coefficients: number[] } {
  if (params.length !== enc.d + 1) throw new RangeError(`expected the d + 1 = ${enc.d + 1} parameters of a binary logistic model, got ${params.length}`);
  let intercept = params[enc.d]!;
  const beta = enc.features.map((f, j) => {
    if (f.kind !== 'numeric') return params[j]!;
    intercept -= (params[j]! * f.center) / f.scale;
    return params[j]! / f.scale;
  });
  return { terms: ['(Intercept)', ...enc.names], coefficients: [intercept, ...beta] };
}
