/**
 * The schema a party declares for its data: every column's type and bounds (numeric range or
 * category list), so that fixed-point scales, overflow checks and, later, differential-privacy
 * sensitivities are known before any data is read. Parties and the aggregator compare
 * `schemaDigest` to check they use the same schema.
 */
import { sha256 } from '../crypto/sha256.ts';
import { toHex, utf8 } from '../crypto/bytes.ts';
import { canonicalJson } from './canonical.ts';

export const COLUMN_TYPES = ['numeric', 'integer', 'categorical', 'identifier'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];
export const MISSING_POLICIES = ['drop', 'category', 'reject'] as const;
export type MissingPolicy = (typeof MISSING_POLICIES)[number];
export const OUT_OF_BOUNDS_POLICIES = ['reject', 'clip'] as const;
export type OutOfBoundsPolicy = (typeof OUT_OF_BOUNDS_POLICIES)[number];

/** Longest patient identifier (after trimming spaces, in UTF-16 code units); longer ones reject the row. */
export const MAX_IDENTIFIER_LENGTH = 256;

/** Level used for a missing value of a categorical column declared with `missing: 'category'`. */
export const MISSING_LEVEL = '(missing)';

export interface ColumnSpec {
  name: string;
  type: ColumnType;
  /** Lower bound, required for numeric/integer columns. */
  min?: number;
  /** Upper bound, required for numeric/integer columns. */
  max?: number;
  /** Allowed levels, required for categorical columns. */
  categories?: string[];
  /** 'drop' (default): a row missing a column used by a query is excluded from that query;
   * 'category' (categorical only): missing is the level "(missing)"; 'reject': the column is never
   * missing (a mandatory field), a row missing it is refused at load (so the synthesizer never
   * produces a missing value in it). */
  missing?: MissingPolicy;
  /** Strings read as missing in this column (overrides the schema's missingValues; "" always is). */
  missingValues?: string[];
  /** 'reject' (default): a value outside [min, max] rejects the row; 'clip': clamp it. */
  outOfBounds?: OutOfBoundsPolicy;
  /**
   * Numeric only: the precision values are recorded at (e.g. 0.1 for creatinine in mg/dl). Public
   * metadata, like the bounds: the synthesizer bins on this grid and samples values on it.
   */
  resolution?: number;
  description?: string;
}

/**
 * A relation between two columns that holds in every row (public metadata, like the bounds):
 * `le`: left ≤ right whenever both are present (e.g. recurrence time ≤ death time). The
 * synthesizer honours it by construction in sampling (stats/synth/sample.ts); it is not checked
 * when data are loaded.
 */
export interface ColumnConstraint {
  type: 'le';
  left: string;
  right: string;
  /**
   * left = right is common (a time to an event censored at the follow-up time): the synthesizer
   * makes a row's left value equal its right value when the model puts it in the fine bin that
   * holds the right value (docs/synth.md). Needs right's values to be valid left values.
   */
  ties?: boolean;
  /**
   * left is the time to the event recorded in a categorical column, censored at right (survival
   * data: relapse-free time with its relapse indicator, censored at the follow-up time): in
   * every row where the three are present, left < right when `column` equals `value`, and
   * left = right when it holds any other level. So the indicator is a derived column,
   * [left < right]; the synthesizer makes each row's times agree with its sampled indicator.
   * Implies `ties` (and its checks).
   */
  event?: { column: string; value: string };
  description?: string;
}
export const CONSTRAINT_TYPES = ['le'] as const;

export interface Schema {
  name: string;
  maxRowsPerParty: number;
  /**
   * Most rows one patient can have in a party's data (default 1). Differential privacy protects
   * a patient, so every sensitivity is multiplied by it. Enforced at load (stats/dataset.ts):
   * rows are grouped by the schema's identifier column and each patient keeps at most this many.
   */
  rowsPerPatient: number;
  columns: ColumnSpec[];
  /** Relations between columns that hold in every row (absent when none are declared). */
  constraints?: ColumnConstraint[];
  /** Strings read as missing in every column (e.g. R's "NA"); an empty field always is. */
  missingValues?: string[];
}

export class SchemaError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`schema ${field}: ${message}`);
    this.name = 'SchemaError';
    this.field = field;
  }
}

const COLUMN_KEYS = new Set(['name', 'type', 'min', 'max', 'categories', 'missing', 'missingValues', 'outOfBounds', 'resolution', 'description']);
const SCHEMA_KEYS = new Set(['name', 'maxRowsPerParty', 'rowsPerPatient', 'columns', 'constraints', 'missingValues']);
/** Most strings a missingValues list may hold, and their longest. */
export const MAX_MISSING_VALUES = 20;
const MISSING_VALUE_MAX_LENGTH = 32;

/** Validates a missingValues list: distinct non-empty strings (trimmed), a few short ones. */
function parseMissingValues(raw: unknown, field: string): string[] {
  if (!Array.isArray(raw) || raw.length > MAX_MISSING_VALUES || !raw.every((v) => typeof v === 'string' && v.trim() === v && v.length >= 1 && v.length <= MISSING_VALUE_MAX_LENGTH)) {
    throw new SchemaError(field, `expected up to ${MAX_MISSING_VALUES} distinct strings of 1 to ${MISSING_VALUE_MAX_LENGTH} characters without surrounding spaces, e.g. ["NA", "NULL"] (an empty field is always missing)`);
  }
  if (new Set(raw).size !== raw.length) throw new SchemaError(field, 'lists a string twice');
  return [...(raw as string[])];
}
const CONSTRAINT_KEYS = new Set(['type', 'left', 'right', 'ties', 'event', 'description']);
const EVENT_KEYS = new Set(['column', 'value']);
/** Most constraints a schema may declare. */
export const MAX_CONSTRAINTS = 64;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function parseColumn(raw: unknown, index: number): ColumnSpec {
  const where = `columns[${index}]`;
  if (!isObject(raw)) throw new SchemaError(where, 'expected an object { name, type, ... }');
  if (typeof raw.name !== 'string' || raw.name.length === 0) {
    throw new SchemaError(`${where}.name`, 'expected a non-empty string');
  }
  const name = raw.name;
  const at = `column "${name}"`;
  for (const k of Object.keys(raw)) {
    if (!COLUMN_KEYS.has(k)) {
      throw new SchemaError(at, `unknown field "${k}"; allowed: ${[...COLUMN_KEYS].join(', ')}`);
    }
  }
  const type = raw.type;
  if (typeof type !== 'string' || !(COLUMN_TYPES as readonly string[]).includes(type)) {
    throw new SchemaError(`${at}.type`, `got ${JSON.stringify(type)}; use one of ${COLUMN_TYPES.join(', ')}`);
  }
  const spec: ColumnSpec = { name, type: type as ColumnType };
  if (raw.description !== undefined) {
    if (typeof raw.description !== 'string') throw new SchemaError(`${at}.description`, 'expected a string');
    spec.description = raw.description;
  }
  if (raw.missingValues !== undefined) spec.missingValues = parseMissingValues(raw.missingValues, `${at}.missingValues`);
  const missing = raw.missing ?? 'drop';
  if (typeof missing !== 'string' || !(MISSING_POLICIES as readonly string[]).includes(missing)) {
    throw new SchemaError(`${at}.missing`, `got ${short(missing)}; use 'drop', 'category' or 'reject'`);
  }
  const oob = raw.outOfBounds ?? 'reject';
  if (typeof oob !== 'string' || !(OUT_OF_BOUNDS_POLICIES as readonly string[]).includes(oob)) {
    throw new SchemaError(`${at}.outOfBounds`, `got ${JSON.stringify(oob)}; use 'reject' or 'clip'`);
  }
  if (type === 'numeric' || type === 'integer') {
    for (const b of ['min', 'max'] as const) {
      const v = raw[b];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new SchemaError(`${at}.${b}`, `required for a ${type} column: a finite number`);
      }
      if (type === 'integer' && !Number.isSafeInteger(v)) {
        throw new SchemaError(`${at}.${b}`, `must be a (safe) integer for an integer column, got ${v}`);
      }
    }
    const min = raw.min as number;
    const max = raw.max as number;
    if (!(min < max)) throw new SchemaError(at, `min (${min}) must be less than max (${max})`);
    if (Math.max(Math.abs(min), Math.abs(max)) > 2 ** 40) {
      throw new SchemaError(at, `bounds must lie within ±2^40 so that products of two values stay exact enough; got [${min}, ${max}]`);
    }
    if (raw.categories !== undefined) throw new SchemaError(`${at}.categories`, `only allowed for categorical columns`);
    if (missing === 'category') throw new SchemaError(`${at}.missing`, `'category' is only allowed for categorical columns; use 'drop'`);
    spec.min = min;
    spec.max = max;
    spec.outOfBounds = oob as OutOfBoundsPolicy;
    if (raw.resolution !== undefined) {
      const r = raw.resolution;
      if (type !== 'numeric') throw new SchemaError(`${at}.resolution`, `only allowed for numeric columns (an integer column's resolution is 1)`);
      if (typeof r !== 'number' || !(r > 0) || !Number.isFinite(r) || r > max - min) {
        throw new SchemaError(`${at}.resolution`, `expected a positive number no larger than max − min, got ${JSON.stringify(r)}`);
      }
      spec.resolution = r;
    }
    spec.missing = missing === 'reject' ? 'reject' : 'drop';
  } else {
    if (raw.min !== undefined || raw.max !== undefined) {
      throw new SchemaError(at, `min/max are only allowed for numeric or integer columns`);
    }
    if (raw.outOfBounds !== undefined) {
      throw new SchemaError(`${at}.outOfBounds`, `only allowed for numeric or integer columns`);
    }
    if (raw.resolution !== undefined) throw new SchemaError(`${at}.resolution`, `only allowed for numeric columns`);
    if (type === 'categorical') {
      const cats = raw.categories;
      if (!Array.isArray(cats) || cats.length === 0 || !cats.every((c) => typeof c === 'string' && c.length > 0)) {
        throw new SchemaError(`${at}.categories`, 'required for a categorical column: a non-empty array of non-empty strings');
      }
      if (new Set(cats).size !== cats.length) throw new SchemaError(`${at}.categories`, 'contains duplicates');
      if (cats.includes(MISSING_LEVEL)) {
        throw new SchemaError(`${at}.categories`, `"${MISSING_LEVEL}" is reserved; use missing: 'category' instead`);
      }
      spec.categories = [...(cats as string[])];
      spec.missing = missing as MissingPolicy;
    } else {
      if (raw.categories !== undefined) throw new SchemaError(`${at}.categories`, `only allowed for categorical columns`);
      if (missing === 'category') throw new SchemaError(`${at}.missing`, `'category' is only allowed for categorical columns`);
      if (missing === 'reject') throw new SchemaError(`${at}.missing`, `a row missing its patient identifier is refused already; leave "missing" out`);
      spec.missing = 'drop';
    }
  }
  return spec;
}

/** Validates a parsed JSON schema and returns it with defaults filled in. */
export function parseSchema(json: unknown): Schema {
  if (!isObject(json)) throw new SchemaError('(root)', 'expected an object { name, maxRowsPerParty, columns }');
  if ('draft' in json) {
    throw new SchemaError('draft', 'this schema is a draft (blindsum schema infer) whose bounds and categories were read from data: review them, widen the bounds to plausible round ranges, then delete the "draft" field');
  }
  for (const k of Object.keys(json)) {
    if (!SCHEMA_KEYS.has(k)) throw new SchemaError('(root)', `unknown field "${k}"; allowed: ${[...SCHEMA_KEYS].join(', ')}`);
  }
  if (typeof json.name !== 'string' || json.name.length === 0) throw new SchemaError('name', 'expected a non-empty string');
  const maxRows = json.maxRowsPerParty;
  if (typeof maxRows !== 'number' || !Number.isSafeInteger(maxRows) || maxRows < 1 || maxRows > 2 ** 31) {
    throw new SchemaError('maxRowsPerParty', `expected an integer in [1, 2^31], got ${JSON.stringify(maxRows)}`);
  }
  const rowsPerPatient = json.rowsPerPatient ?? 1;
  if (typeof rowsPerPatient !== 'number' || !Number.isSafeInteger(rowsPerPatient) || rowsPerPatient < 1 || rowsPerPatient > 1_000_000) {
    throw new SchemaError('rowsPerPatient', `expected an integer in [1, 10^6] (the most rows one patient can have), got ${JSON.stringify(rowsPerPatient)}`);
  }
  if (!Array.isArray(json.columns) || json.columns.length === 0) {
    throw new SchemaError('columns', 'expected a non-empty array of column specifications');
  }
  const columns = json.columns.map((c, i) => parseColumn(c, i));
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c.name)) throw new SchemaError(`column "${c.name}"`, 'declared twice; column names must be unique');
    seen.add(c.name);
  }
  const schema: Schema = { name: json.name, maxRowsPerParty: maxRows, rowsPerPatient, columns };
  if (json.missingValues !== undefined) schema.missingValues = parseMissingValues(json.missingValues, 'missingValues');
  // A string read as missing cannot also be a category of the column it applies to.
  for (const c of columns) {
    const clash = (c.missingValues ?? schema.missingValues ?? []).find((v) => c.categories?.includes(v));
    if (clash !== undefined) throw new SchemaError(`column "${c.name}"`, `"${clash}" is both a category and a missing value; drop it from missingValues (or from the categories)`);
  }
  if (json.constraints !== undefined) schema.constraints = parseConstraints(json.constraints, columns);
  patientColumn(schema);
  return schema;
}

const short = (x: unknown): string => {
  const t = JSON.stringify(x) ?? String(x);
  return t.length > 40 ? `${t.slice(0, 40)}…` : t;
};

/**
 * Validates `constraints`: each `{ type: 'le', left, right }` between two distinct numeric or
 * integer columns with left's min ≤ right's min (so every right value leaves room for a left
 * value); a column is the left side of at most one constraint, and the constraints have no cycle
 * (the synthesizer samples every right side before its left side). `ties` and `event` (which
 * implies ties) need right's values to be valid left values.
 */
function parseConstraints(raw: unknown, columns: ColumnSpec[]): ColumnConstraint[] {
  if (!Array.isArray(raw)) throw new SchemaError('constraints', `expected an array of { type: "le", left, right }, got ${short(raw)}`);
  if (raw.length > MAX_CONSTRAINTS) throw new SchemaError('constraints', `at most ${MAX_CONSTRAINTS} constraints, got ${raw.length}`);
  const out: ColumnConstraint[] = [];
  const leftOf = new Map<string, string>();
  const eventOf = new Map<string, string>();
  raw.forEach((c, i) => {
    const at = `constraints[${i}]`;
    if (!isObject(c)) throw new SchemaError(at, `expected an object { type: "le", left, right }, got ${short(c)}`);
    for (const k of Object.keys(c)) {
      if (!CONSTRAINT_KEYS.has(k)) throw new SchemaError(at, `unknown field "${k.slice(0, 40)}"; allowed: ${[...CONSTRAINT_KEYS].join(', ')}`);
    }
    if (typeof c.type !== 'string' || !(CONSTRAINT_TYPES as readonly string[]).includes(c.type)) {
      throw new SchemaError(`${at}.type`, `got ${short(c.type)}; use one of ${CONSTRAINT_TYPES.join(', ')} (left <= right)`);
    }
    const side = (k: 'left' | 'right'): ColumnSpec => {
      const name = c[k];
      if (typeof name !== 'string' || name.length === 0) throw new SchemaError(`${at}.${k}`, `expected a column name, got ${short(name)}`);
      const col = columns.find((x) => x.name === name);
      if (!col) throw new SchemaError(`${at}.${k}`, `no column ${short(name)} in the schema`);
      if (col.type !== 'numeric' && col.type !== 'integer') throw new SchemaError(`${at}.${k}`, `column "${col.name}" is ${col.type}; an "le" constraint relates numeric or integer columns`);
      return col;
    };
    const [l, r] = [side('left'), side('right')];
    if (l.name === r.name) throw new SchemaError(at, `left and right are the same column "${l.name}"`);
    if (l.min! > r.min!) throw new SchemaError(at, `"${l.name}" <= "${r.name}" cannot hold for "${r.name}" below ${l.min} (the min of "${l.name}"); lower the min of "${l.name}" to at most ${r.min}`);
    if (leftOf.has(l.name)) throw new SchemaError(at, `"${l.name}" is already the left side of a constraint (with "${leftOf.get(l.name)}"); a column may be bounded above by one column only`);
    leftOf.set(l.name, r.name);
    const spec: ColumnConstraint = { type: 'le', left: l.name, right: r.name };
    if (c.ties !== undefined && typeof c.ties !== 'boolean') throw new SchemaError(`${at}.ties`, `expected true or false, got ${short(c.ties)}`);
    if (c.event !== undefined) {
      if (c.ties === false) throw new SchemaError(`${at}.ties`, 'is false, but an "event" makes left = right in every row without the event; drop "ties" or "event"');
      spec.event = parseEvent(c.event, `${at}.event`, columns, eventOf);
      eventOf.set(spec.event.column, l.name);
    }
    if (c.ties === true || spec.event) {
      // a tie copies the right value into the left column: it must be a value the left column can hold
      if (l.type !== r.type || l.resolution !== r.resolution) {
        throw new SchemaError(`${at}.${c.ties === true ? 'ties' : 'event'}`, `"${r.name}" (${r.type}${r.resolution ? `, resolution ${r.resolution}` : ''}) and "${l.name}" (${l.type}${l.resolution ? `, resolution ${l.resolution}` : ''}) differ in type or resolution, so a value of "${r.name}" may not be a valid "${l.name}"; give them the same`);
      }
      if (r.max! > l.max!) throw new SchemaError(`${at}.${c.ties === true ? 'ties' : 'event'}`, `"${r.name}" may exceed the max of "${l.name}" (${r.max} > ${l.max}), so a tie could not copy it; raise the max of "${l.name}" to ${r.max}`);
      spec.ties = true;
    }
    if (c.description !== undefined) {
      if (typeof c.description !== 'string') throw new SchemaError(`${at}.description`, 'expected a string');
      spec.description = c.description;
    }
    out.push(spec);
  });
  for (const start of leftOf.keys()) {
    const seen = new Set<string>([start]);
    for (let x = leftOf.get(start); x !== undefined; x = leftOf.get(x)) {
      if (seen.has(x)) throw new SchemaError('constraints', `form a cycle through "${x}" (${[...seen].join(' <= ')} <= ${x}); drop one`);
      seen.add(x);
    }
  }
  return out;
}

/**
 * Validates a constraint's `event`: `{ column, value }`, a categorical column (the event
 * indicator) and one of its categories; a column indicates the event of one constraint only.
 */
function parseEvent(raw: unknown, at: string, columns: ColumnSpec[], eventOf: Map<string, string>): { column: string; value: string } {
  if (!isObject(raw)) throw new SchemaError(at, `expected an object { column, value }, got ${short(raw)}`);
  for (const k of Object.keys(raw)) {
    if (!EVENT_KEYS.has(k)) throw new SchemaError(at, `unknown field "${k.slice(0, 40)}"; allowed: ${[...EVENT_KEYS].join(', ')}`);
  }
  const name = raw.column;
  if (typeof name !== 'string' || name.length === 0) throw new SchemaError(`${at}.column`, `expected a column name, got ${short(name)}`);
  const col = columns.find((x) => x.name === name);
  if (!col) throw new SchemaError(`${at}.column`, `no column ${short(name)} in the schema`);
  if (col.type !== 'categorical') throw new SchemaError(`${at}.column`, `column "${col.name}" is ${col.type}; an event indicator is a categorical column`);
  if (typeof raw.value !== 'string' || !col.categories!.includes(raw.value)) {
    throw new SchemaError(`${at}.value`, `got ${short(raw.value)}; use one of the categories of "${col.name}" (${col.categories!.slice(0, 10).map((x) => short(x)).join(', ')}${col.categories!.length > 10 ? ', …' : ''})`);
  }
  if (col.categories!.length < 2) throw new SchemaError(`${at}.column`, `column "${col.name}" has one category; an event indicator needs one for the event and one for censoring`);
  if (eventOf.has(col.name)) throw new SchemaError(`${at}.column`, `"${col.name}" already indicates the event of "${eventOf.get(col.name)}"; a column indicates one event`);
  return { column: col.name, value: raw.value };
}

/**
 * The column that identifies a patient (rows are grouped by it and bounded to rowsPerPatient
 * each), or undefined when the schema has none (then every row is its own patient). Throws
 * SchemaError unless the schema declares at most one identifier column, and exactly one when
 * rowsPerPatient > 1: without it the bound the DP sensitivity relies on could not be enforced.
 */
export function patientColumn(schema: Schema): ColumnSpec | undefined {
  const ids = schema.columns.filter((c) => c.type === 'identifier');
  if (ids.length > 1) {
    throw new SchemaError('columns', `declares ${ids.length} identifier columns (${ids.map((c) => `"${c.name}"`).join(', ')}); declare exactly one, the patient identifier that rows are grouped by (other identifying CSV columns can stay out of the schema: extra CSV columns are ignored)`);
  }
  const k = schema.rowsPerPatient;
  if (k > 1 && ids.length === 0) {
    throw new SchemaError('rowsPerPatient', `is ${k} but the schema declares no identifier column; declare the patient identifier column (type "identifier") so that each patient's rows can be bounded to ${k}, or use rowsPerPatient 1 (every row a distinct patient)`);
  }
  return ids[0];
}

/** Looks up a column by name (undefined when absent). */
export function findColumn(schema: Schema, name: string): ColumnSpec | undefined {
  return schema.columns.find((c) => c.name === name);
}

/** Levels of a categorical column as they appear in datasets and layouts (incl. "(missing)"). */
export function levelsOf(spec: ColumnSpec): string[] {
  const cats = spec.categories ?? [];
  return spec.missing === 'category' ? [...cats, MISSING_LEVEL] : [...cats];
}

/** Largest absolute value a numeric/integer column can take after clipping to its bounds. */
export function absBound(spec: ColumnSpec): number {
  return Math.max(Math.abs(spec.min ?? 0), Math.abs(spec.max ?? 0));
}

/**
 * The public centre of a numeric column (the integer nearest the midpoint of its bounds) and
 * max |v − centre| over them. Moment kinds sum v − centre: the same centred statistics, with the
 * bound of a square falling from max|v|² to about (range/2)², and the DP noise with it.
 */
export function boundsCentre(spec: ColumnSpec): { centre: number; bound: number } {
  const lo = spec.min ?? 0;
  const hi = spec.max ?? 0;
  const centre = Math.round((lo + hi) / 2);
  return { centre, bound: Math.max(Math.abs(lo - centre), Math.abs(hi - centre)) };
}

/** Hex SHA-256 of the canonical JSON of the schema with defaults filled in. */
export function schemaDigest(schema: Schema): string {
  const normal = parseSchema(JSON.parse(JSON.stringify(schema)) as unknown);
  return toHex(sha256(utf8(canonicalJson(normal))));
}
