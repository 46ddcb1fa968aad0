/**
 * Federated query: what to compute (kind), over which columns, on which rows (filter). Checked
 * against the schema before any data is read.
 */
import { validateGlm } from './kinds/glm-model.ts';
import { validateKaplanMeier } from './kinds/kaplan-meier.ts';
import { coxFormula, validateCox } from './kinds/cox-layout.ts';
import { validateMarginal } from './kinds/marginal.ts';
import { MAX_MOMENT_VARS, momentVars } from './kinds/moments.ts';
import { validateTrainRound } from './kinds/train-round.ts';
import { validateTrainEvaluate } from './kinds/train-evaluate.ts';
import { checkHoldout } from './train/holdout.ts';
import { findColumn, levelsOf, MISSING_LEVEL } from './schema.ts';
import type { ColumnSpec, Schema } from './schema.ts';

export { FIELD_KINDS, PREDICATE_OPS, QUERY_KINDS, QUERY_LIMITS, QueryError, quote } from './query-types.ts';
export type { Predicate, PredicateOp, Query, QueryKind } from './query-types.ts';
import { FIELD_KINDS, PREDICATE_OPS, QUERY_KINDS, QUERY_LIMITS, QueryError, quote, type TrainDpSpec, type TrainSpec, type Predicate, type PredicateOp, type Query, type QueryKind } from './query-types.ts';

const isNumericType = (c: ColumnSpec): boolean => c.type === 'numeric' || c.type === 'integer';

function column(schema: Schema, name: string, role: string): ColumnSpec {
  const c = findColumn(schema, name);
  if (!c) {
    throw new QueryError(`${role}: unknown column ${quote(name)}; schema "${schema.name}" has ${schema.columns.filter((x) => x.type !== 'identifier').map((x) => x.name).join(', ')}`);
  }
  if (c.type === 'identifier') throw new QueryError(`${role}: column "${name}" is an identifier; identifiers are never aggregated or filtered on`);
  return c;
}

function needNumeric(c: ColumnSpec, kind: string): void {
  if (!isNumericType(c)) throw new QueryError(`${kind} needs numeric or integer columns; "${c.name}" is ${c.type}`);
}
function needCategorical(c: ColumnSpec, kind: string): void {
  if (c.type !== 'categorical') throw new QueryError(`${kind} needs categorical columns; "${c.name}" is ${c.type} (use a histogram for numeric columns)`);
}

/** Levels of a categorical column that become indicators or its reference ("(missing)" is missing). */
function factorLevels(c: ColumnSpec): number {
  return levelsOf(c).filter((lv) => lv !== MISSING_LEVEL).length;
}

/** Numeric columns, or categorical ones of at least two levels (they enter by treatment coding). */
function needFactorsOrNumeric(cols: ColumnSpec[], kind: string, role: string): void {
  for (const c of cols) {
    if (c.type === 'categorical') {
      if (factorLevels(c) < 2) throw new QueryError(`${kind}: categorical ${role} ${quote(c.name)} needs at least two levels`);
    } else needNumeric(c, kind);
  }
}

/** Moment kinds: at most MAX_MOMENT_VARS variables once categorical columns are widened to their indicators (the vector is quadratic in them). */
function maxVariables(schema: Schema, columns: string[], kind: string): void {
  const m = momentVars(schema, columns).length;
  if (m > MAX_MOMENT_VARS) throw new QueryError(`${kind}: ${m} variables once categorical columns are coded (one indicator per level but the first), more than ${MAX_MOMENT_VARS}; use fewer columns or coarser categories`);
}

function arity(q: Query, n: number | [number, number], what: string): void {
  const [lo, hi] = typeof n === 'number' ? [n, n] : n;
  if (q.columns.length < lo || q.columns.length > hi) {
    throw new QueryError(`${q.kind} takes ${what}; got ${q.columns.length} columns${q.columns.length > 0 ? ` [${q.columns.slice(0, 4).map((c) => quote(c)).join(', ')}${q.columns.length > 4 ? ', …' : ''}]` : ''}`);
  }
}

function validatePredicate(p: Predicate, schema: Schema, i: number): void {
  const where = `filter[${i}] (${quote(p.column)} ${p.op})`;
  const c = column(schema, p.column, `filter[${i}]`);
  const v = p.values;
  if (p.op === 'is_missing' || p.op === 'not_missing') {
    if (v.length !== 0) throw new QueryError(`${where}: takes no values; use values: []`);
    return;
  }
  if (p.op === 'between') {
    if (v.length !== 2) throw new QueryError(`${where}: takes exactly two values [lo, hi]`);
  } else if (p.op === 'in') {
    if (v.length === 0) throw new QueryError(`${where}: takes a non-empty list of values`);
  } else if (v.length !== 1) {
    throw new QueryError(`${where}: takes exactly one value, got ${v.length}`);
  }
  const ordered = p.op === 'lt' || p.op === 'le' || p.op === 'gt' || p.op === 'ge' || p.op === 'between';
  if (isNumericType(c)) {
    for (const x of v) {
      if (typeof x !== 'number' || !Number.isFinite(x)) throw new QueryError(`${where}: column "${c.name}" is ${c.type}; values must be finite numbers, got ${quote(x)}`);
    }
    if (p.op === 'between' && (v[0] as number) > (v[1] as number)) throw new QueryError(`${where}: lo (${v[0]}) must not exceed hi (${v[1]})`);
  } else {
    if (ordered) throw new QueryError(`${where}: ${p.op} needs a numeric or integer column; "${c.name}" is categorical (use eq, ne or in)`);
    const levels = levelsOf(c);
    for (const x of v) {
      if (typeof x !== 'string' && typeof x !== 'number') throw new QueryError(`${where}: values must be strings (category levels)`);
      if (!levels.includes(String(x))) throw new QueryError(`${where}: ${quote(x)} is not a level of "${c.name}"; levels: ${levels.join(', ')}`);
    }
  }
}

/** Checks a query against the schema; throws QueryError naming the problem. */
export function validateQuery(q: Query, schema: Schema): void {
  if (!(QUERY_KINDS as readonly string[]).includes(q.kind)) throw new QueryError(`unknown query kind ${quote(q.kind)}; use one of ${QUERY_KINDS.join(', ')}`);
  const cols = q.columns.map((name, i) => column(schema, name, `columns[${i}]`));
  if (new Set(q.columns).size !== q.columns.length) throw new QueryError(`${q.kind}: the columns contain a duplicate`);
  for (const [field, kinds] of Object.entries(FIELD_KINDS)) {
    if ((q as unknown as Record<string, unknown>)[field] !== undefined && !kinds.includes(q.kind)) {
      throw new QueryError(`${field} only applies to ${kinds.filter((k) => (QUERY_KINDS as readonly string[]).includes(k)).join(', ')} queries, not ${q.kind}`);
    }
  }
  switch (q.kind) {
    case 'count':
      arity(q, 0, 'no columns (columns: [])');
      break;
    case 'sum': case 'mean': case 'variance':
      arity(q, 1, 'one numeric column');
      needNumeric(cols[0]!, q.kind);
      break;
    case 'histogram': {
      arity(q, 1, 'one numeric column');
      needNumeric(cols[0]!, q.kind);
      const b = q.bins;
      if (!b || b.length < 2) throw new QueryError('histogram needs bins: at least two strictly increasing edges');
      if (b.length > 10_001) throw new QueryError(`histogram: at most 10000 bins, got ${b.length - 1}`);
      for (let i = 0; i < b.length; i++) {
        if (typeof b[i] !== 'number' || !Number.isFinite(b[i])) throw new QueryError(`histogram bins[${i}]: expected a finite number`);
        if (i > 0 && !(b[i]! > b[i - 1]!)) throw new QueryError(`histogram bins must be strictly increasing; bins[${i}] = ${b[i]} after ${b[i - 1]}`);
      }
      break;
    }
    case 'frequency':
      arity(q, 1, 'one categorical column');
      needCategorical(cols[0]!, q.kind);
      break;
    case 'contingency':
      arity(q, 2, 'two categorical columns [row, column]');
      for (const c of cols) needCategorical(c, q.kind);
      break;
    case 'covariance': case 'correlation': {
      arity(q, [1, 50], 'between 1 and 50 columns, numeric or categorical (treatment coding: one indicator per level but the first listed), at least two variables in all');
      needFactorsOrNumeric(cols, q.kind, 'column');
      maxVariables(schema, q.columns, q.kind);
      if (cols.length < 2 && !(cols[0]!.type === 'categorical' && factorLevels(cols[0]!) > 2)) {
        throw new QueryError(`${q.kind} needs at least two variables: two columns, or one categorical column of three or more levels (treatment coding gives one indicator per level but the first); got [${q.columns.map((c) => quote(c)).join(', ')}]`);
      }
      break;
    }
    case 'linear_regression': {
      arity(q, [1, 50], 'between 1 and 50 predictor columns, numeric or categorical (treatment coding: one indicator per level but the first listed; the intercept is always included)');
      needFactorsOrNumeric(cols, q.kind, 'predictor');
      maxVariables(schema, q.columns, q.kind);
      if (q.target === undefined) throw new QueryError('linear_regression needs target: the response column');
      const t = column(schema, q.target, 'target');
      needNumeric(t, q.kind);
      if (q.columns.includes(q.target)) throw new QueryError(`linear_regression: target ${quote(q.target)} is also a predictor`);
      break;
    }
    case 'marginal':
      validateMarginal(q, cols);
      break;
    case 'logistic_regression': case 'poisson_regression':
      validateGlm(q, schema);
      break;
    case 'kaplan_meier':
      validateKaplanMeier(q, schema);
      break;
    case 'cox':
      validateCox(q, schema);
      break;
    case 'train_round':
      validateTrainRound(q, schema);
      break;
    case 'train_evaluate':
      validateTrainEvaluate(q, schema);
      break;
    case 'population':
      // The load's figures: of every row read, dropped ones included; no column or filter applies.
      if (q.columns.length > 0) throw new QueryError(`population takes no columns (it counts the rows the parties' loads read, loaded and dropped); got ${q.columns.length}`);
      if (q.filter.length > 0) throw new QueryError('population takes no filter: dropped rows have no values to filter on');
      break;
  }
  q.filter.forEach((p, i) => validatePredicate(p, schema, i));
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Checks the shape of a JSON query (types only; validateQuery checks it against a schema). */
export function parseQueryJson(json: unknown): Query {
  if (!isObject(json)) throw new QueryError('query: expected an object { kind, columns, filter, bins?, target?, edges?, tables?, … }');
  for (const k of Object.keys(json)) {
    if (!['kind', 'columns', 'filter', ...Object.keys(FIELD_KINDS)].includes(k)) throw new QueryError(`query: unknown field ${quote(k)}`);
  }
  const L = QUERY_LIMITS;
  const kind = json.kind;
  if (typeof kind !== 'string' || !(QUERY_KINDS as readonly string[]).includes(kind)) {
    throw new QueryError(`query.kind: got ${typeof kind === 'string' ? quote(kind) : typeof kind}; use one of ${QUERY_KINDS.join(', ')}`);
  }
  const name = (x: unknown, field: string): string => {
    if (typeof x !== 'string') throw new QueryError(`${field}: expected a column name`);
    if (x.length > L.name) throw new QueryError(`${field}: a column name has at most ${L.name} characters, got ${x.length} (${quote(x)})`);
    return x;
  };
  const list = (x: unknown, field: string, max: number, what: string): unknown[] => {
    if (!Array.isArray(x)) throw new QueryError(`${field}: expected an array of ${what}`);
    if (x.length > max) throw new QueryError(`${field}: at most ${max} ${what}, got ${x.length}`);
    return x;
  };
  const columnsRaw = list(json.columns ?? [], 'query.columns', L.columns, 'column names');
  if (!columnsRaw.every((c) => typeof c === 'string')) throw new QueryError('query.columns: expected an array of column names');
  const columns = columnsRaw.map((c, i) => name(c, `query.columns[${i}]`));
  const filter = list(json.filter ?? [], 'query.filter', L.predicates, 'predicates').map((p, i): Predicate => {
    if (!isObject(p)) throw new QueryError(`query.filter[${i}]: expected { column, op, values }`);
    const column = name(p.column, `query.filter[${i}].column`);
    if (typeof p.op !== 'string' || !(PREDICATE_OPS as readonly string[]).includes(p.op)) {
      throw new QueryError(`query.filter[${i}].op: got ${typeof p.op === 'string' ? quote(p.op) : typeof p.op}; use one of ${PREDICATE_OPS.join(', ')}`);
    }
    const values = list(p.values ?? [], `query.filter[${i}].values`, L.values, 'values');
    values.forEach((v, k) => {
      if (typeof v !== 'string' && typeof v !== 'number') throw new QueryError(`query.filter[${i}].values: expected an array of strings or numbers`);
      if (typeof v === 'string' && v.length > L.valueLength) throw new QueryError(`query.filter[${i}].values[${k}]: at most ${L.valueLength} characters, got ${v.length} (${quote(v)})`);
    });
    return { column, op: p.op as PredicateOp, values: [...(values as (string | number)[])] };
  });
  const q: Query = { kind: kind as QueryKind, columns: [...(columns as string[])], filter };
  if (json.bins !== undefined) {
    const bins = list(json.bins, 'query.bins', L.edges, 'bin edges');
    if (!bins.every((b) => typeof b === 'number')) throw new QueryError('query.bins: expected an array of numbers');
    q.bins = [...(bins as number[])];
  }
  if (json.target !== undefined) q.target = name(json.target, 'query.target');
  const lists = (field: 'edges' | 'tables', max: number, inner: number): number[][] | undefined => {
    const x = json[field];
    if (x === undefined) return undefined;
    return list(x, `query.${field}`, max, 'lists').map((l, i) => {
      const ns = list(l, `query.${field}[${i}]`, inner, 'numbers');
      if (!ns.every((v) => typeof v === 'number')) throw new QueryError(`query.${field}: expected an array of arrays of numbers`);
      return [...(ns as number[])];
    });
  };
  const edges = lists('edges', L.columns, L.edges);
  if (edges !== undefined) q.edges = edges;
  const tables = lists('tables', L.tables, L.tableColumns);
  if (tables !== undefined) q.tables = tables;
  parseModelFields(json, q, name, list);
  return q;
}

/** The fields of the model kinds (regression families, survival, iterative rounds). */
function parseModelFields(
  json: Record<string, unknown>, q: Query, name: (x: unknown, field: string) => string, list: (x: unknown, field: string, max: number, what: string) => unknown[],
): void {
  const L = QUERY_LIMITS;
  const numbers = (x: unknown, field: string, max: number): number[] => {
    const xs = list(x, field, max, 'numbers');
    xs.forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new QueryError(`${field}[${i}]: expected a finite number`);
    });
    return [...(xs as number[])];
  };
  if (json.positive !== undefined) {
    q.positive = list(json.positive, 'query.positive', L.values, 'levels').map((v, i) => {
      if (typeof v !== 'string' || v.length > L.valueLength) throw new QueryError(`query.positive[${i}]: expected a level (a string of at most ${L.valueLength} characters)`);
      return v;
    });
  }
  for (const f of ['offset', 'time', 'event', 'strata'] as const) if (json[f] !== undefined) q[f] = name(json[f], `query.${f}`);
  if (json.times !== undefined) q.times = numbers(json.times, 'query.times', L.times);
  if (json.state !== undefined) q.state = numbers(json.state, 'query.state', L.state);
  if (json.job !== undefined) {
    if (typeof json.job !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(json.job)) throw new QueryError(`query.job: expected 1 to ${L.job} characters of [A-Za-z0-9._-], got ${quote(json.job)}`);
    q.job = json.job;
  }
  if (json.train !== undefined) q.train = parseTrainSpec(json.train);
  if (json.round !== undefined) {
    if (typeof json.round !== 'number' || !Number.isInteger(json.round) || json.round < 1 || json.round > L.rounds) throw new QueryError(`query.round: expected an integer in [1, ${L.rounds}], got ${quote(json.round)}`);
    q.round = json.round;
  }
}

function describePredicate(p: Predicate): string {
  const v = p.values.map((x) => (typeof x === 'string' ? JSON.stringify(x) : String(x)));
  switch (p.op) {
    case 'is_missing': return `${p.column} is missing`;
    case 'not_missing': return `${p.column} is not missing`;
    case 'between': return `${p.column} between ${v[0]} and ${v[1]}`;
    case 'in': return `${p.column} in {${v.join(', ')}}`;
    default: {
      const sym = { eq: '=', ne: '!=', lt: '<', le: '<=', gt: '>', ge: '>=' }[p.op];
      return `${p.column} ${sym} ${v[0]}`;
    }
  }
}

/** One-line human description, e.g. `mean(age) where sex = "f"`. */
export function describeQuery(q: Query): string {
  let s: string;
  if (q.kind === 'linear_regression') s = `linear_regression(${q.target ?? '?'} ~ 1 + ${q.columns.join(' + ')})`;
  else if (q.kind === 'logistic_regression' || q.kind === 'poisson_regression') {
    const y = q.kind === 'logistic_regression' ? `${q.target ?? '?'} in {${(q.positive ?? []).join(', ')}}` : q.target ?? '?';
    s = `${q.kind}(${y} ~ 1${q.columns.map((c) => ` + ${c}`).join('')}${q.offset ? ` + offset(log(${q.offset}))` : ''})${q.round ? ` round ${q.round}${q.job ? ` of ${q.job}` : ''}` : ''}`;
  }
  else if (q.kind === 'cox') s = `cox(${coxFormula(q)})`;
  else if (q.kind === 'train_round') s = `train_round(${q.train?.model ?? '?'}: ${q.target ?? '?'} ~ ${q.columns.join(' + ')})${q.round ? ` round ${q.round}${q.job ? ` of ${q.job}` : ''}` : ''}`;
  else if (q.kind === 'train_evaluate') s = `train_evaluate(${q.train?.model ?? '?'}: ${q.target ?? '?'} ~ ${q.columns.join(' + ')}; ${q.train?.holdout ? `held-out fraction ${q.train.holdout}` : 'training rows'})`;
  else if (q.kind === 'histogram') s = `histogram(${q.columns.join(', ')}; edges ${(q.bins ?? []).join(', ')})`;
  else if (q.kind === 'marginal') {
    const t = q.tables ?? [q.columns.map((_, i) => i)];
    s = t.length <= 4 ? `marginal(${t.map((c) => c.map((i) => q.columns[i] ?? '?').join(' × ')).join('; ')})` : `marginal(${t.length} tables over ${q.columns.length} columns)`;
  }
  else if (q.kind === 'kaplan_meier') s = `kaplan_meier(${q.time ?? '?'}, ${q.event ?? '?'} in {${(q.positive ?? []).join(', ')}}${q.strata ? ` by ${q.strata}` : ''})`;
  else s = `${q.kind}(${q.columns.join(', ')})`;
  if (q.filter.length > 0) s += ` where ${q.filter.map(describePredicate).join(' and ')}`;
  return s;
}

/** Checks the shape and ranges of a training plan (train_round). */
function parseTrainSpec(x: unknown): TrainSpec {
  if (!isObject(x)) throw new QueryError('query.train: expected an object { model, clip, learningRate, optimizer, expectedBatch, seed, hidden?, samplingRate?, coding?, holdout? }');
  for (const k of Object.keys(x)) {
    if (!['model', 'hidden', 'clip', 'samplingRate', 'learningRate', 'optimizer', 'expectedBatch', 'seed', 'coding', 'dp', 'holdout'].includes(k)) throw new QueryError(`query.train: unknown field ${quote(k)}`);
  }
  const num = (k: string, lo: number, hi: number, openLo = true): number => {
    const v = x[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || (openLo ? !(v > lo) : !(v >= lo)) || v > hi) throw new QueryError(`query.train.${k}: expected a number in ${openLo ? '(' : '['}${lo}, ${hi}], got ${quote(v)}`);
    return v;
  };
  if (x.model !== 'logistic' && x.model !== 'mlp') throw new QueryError(`query.train.model: use logistic or mlp, got ${quote(x.model)}`);
  if (x.optimizer !== 'sgd' && x.optimizer !== 'adam') throw new QueryError(`query.train.optimizer: use sgd or adam, got ${quote(x.optimizer)}`);
  if (typeof x.seed !== 'string' || x.seed.length < 1 || x.seed.length > 128) throw new QueryError('query.train.seed: expected a string of 1 to 128 characters');
  const spec: TrainSpec = { model: x.model, clip: num('clip', 0, 1e6), learningRate: num('learningRate', 0, 1e3), optimizer: x.optimizer, expectedBatch: num('expectedBatch', 0, 1e9), seed: x.seed };
  if (x.samplingRate !== undefined) spec.samplingRate = num('samplingRate', 0, 1);
  if (x.hidden !== undefined) {
    if (!Array.isArray(x.hidden) || x.hidden.length < 1 || x.hidden.length > 8 || !x.hidden.every((h) => Number.isInteger(h) && h >= 1 && h <= 1024)) throw new QueryError('query.train.hidden: expected 1 to 8 layer sizes, integers in [1, 1024]');
    spec.hidden = [...(x.hidden as number[])];
  }
  if (x.coding !== undefined) {
    if (x.coding !== 'treatment' && x.coding !== 'one-hot') throw new QueryError(`query.train.coding: use treatment or one-hot, got ${quote(x.coding)}`);
    spec.coding = x.coding;
  }
  if (x.dp !== undefined) spec.dp = parseTrainDp(x.dp);
  if (x.holdout !== undefined) {
    checkHoldout({ holdout: x.holdout as number });
    spec.holdout = x.holdout as number;
  }
  return spec;
}

/** The DP part of a training plan: the public parameters every node recomputes the mechanism from. */
function parseTrainDp(x: unknown): TrainDpSpec {
  if (!isObject(x)) throw new QueryError('query.train.dp: expected an object { noiseMultiplier, scaleBits, delta, rounds }');
  for (const k of Object.keys(x)) if (!['noiseMultiplier', 'scaleBits', 'delta', 'rounds'].includes(k)) throw new QueryError(`query.train.dp: unknown field ${quote(k)}`);
  const z = x.noiseMultiplier;
  if (typeof z !== 'number' || !(z >= 0.05 && z <= 1e4)) throw new QueryError(`query.train.dp.noiseMultiplier: expected a number in [0.05, 10000], got ${quote(z)}`);
  const s = x.scaleBits;
  if (typeof s !== 'number' || !Number.isInteger(s) || s < -60 || s > 40) throw new QueryError(`query.train.dp.scaleBits: expected an integer in [-60, 40], got ${quote(s)}`);
  const d = x.delta;
  if (typeof d !== 'number' || !(d > 0 && d < 0.01)) throw new QueryError(`query.train.dp.delta: expected a number in (0, 0.01), got ${quote(d)}`);
  const r = x.rounds;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1 || r > 10_000) throw new QueryError(`query.train.dp.rounds: expected an integer in [1, 10000], got ${quote(r)}`);
  return { noiseMultiplier: z, scaleBits: s, delta: d, rounds: r };
}
