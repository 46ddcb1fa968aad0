/**
 * Sampling synthetic records from a fitted model (no privacy cost: post-processing). Seeded and
 * reproducible: randomness comes only from an AES-256-CTR keystream (crypto/dp/random.ts) keyed
 * by SHA-256 of the seed string, never Math.random. Column by column along the network (parents
 * first): the model values of the records of each parent configuration (rounded by default, see
 * SamplingMethod); then a fine value within each model value (by the noisy one-way weights),
 * then a value within the fine bin: uniform for numeric columns, a uniform integer for integer
 * columns, clamped to the schema bounds; "(missing)" is an empty field.
 */
import { sha256 } from '../../crypto/sha256.ts';
import { seededRandomSource, uniform01, type RandomSource } from '../../crypto/dp/random.ts';
import { utf8 } from '../../crypto/bytes.ts';
import { formatCsv } from '../csv.ts';
import { MISSING_LEVEL } from '../schema.ts';
import type { ColumnConstraint, Schema } from '../schema.ts';
import { binIndex } from '../kinds/histogram.ts';
import { isPointBin, onGrid } from './discretize.ts';
import type { ModelColumn, SynthModel } from './model.ts';

/** Index drawn from probabilities p (summing to ~1); the last index absorbs rounding. */
export function drawIndex(p: readonly number[], rng: RandomSource): number {
  const u = uniform01(rng);
  let acc = 0;
  for (let i = 0; i < p.length - 1; i++) {
    acc += p[i]!;
    if (u < acc) return i;
  }
  return p.length - 1;
}

/** The sampling random source of a seed string. */
export function samplingRandom(seed: string): RandomSource {
  return seededRandomSource(sha256(utf8(`blindsum/synth/sample/v1|${seed}`)));
}

const stepOf = (c: ModelColumn): number | undefined => c.step ?? (c.type === 'integer' ? 1 : undefined);

/** The smallest value fine bin f of a numeric/integer column can take. */
function lowestInBin(c: ModelColumn, f: number): number {
  const lo = Math.max(c.edges![f]!, c.min!);
  const step = stepOf(c);
  return step === undefined ? lo : Math.min(c.max!, Math.max(c.min!, onGrid(Math.ceil(lo / step - 1e-9) * step, step)));
}

/**
 * A value inside fine bin f of a numeric/integer column (NaN for "(missing)"), at most `cap`
 * (a constraint's right-hand value; the caller makes sure the bin has a value ≤ cap). The bin of
 * a point mass (discretize.ts pointMassValues) gives its value itself, so the mass is not spread.
 */
function valueInBin(c: ModelColumn, f: number, rng: RandomSource, cap = Infinity): number {
  const e = c.edges!;
  if (f >= e.length - 1) return NaN;
  const lo = Math.max(e[f]!, c.min!);
  const hi = Math.min(e[f + 1]!, c.max!);
  const last = f === e.length - 2;
  const step = stepOf(c);
  if (step !== undefined) {
    // grid values k·step with lo ≤ k·step < hi (≤ hi in the last bin), and k·step ≤ cap
    const a = Math.ceil(lo / step - 1e-9);
    const top = hi / step;
    let b = last || Math.abs(top - Math.round(top)) > 1e-9 ? Math.floor(top + 1e-9) : Math.round(top) - 1;
    if (cap < Infinity) b = Math.min(b, Math.floor(cap / step + 1e-9));
    const k = b < a ? a : a + Math.floor(uniform01(rng) * (b - a + 1));
    return Math.min(c.max!, Math.max(c.min!, onGrid(k * step, step)));
  }
  if (isPointBin(e[f]!, e[f + 1]!, c.min!, c.max!)) return lo;
  const top = Math.max(lo, Math.min(hi, cap));
  return lo + uniform01(rng) * (top - lo);
}

/** The fine bin of numeric/integer column c holding value x (bins [e_f, e_{f+1}), the last closed), or −1 outside the edges. */
function fineBinOf(c: ModelColumn, x: number): number {
  const f = binIndex(c.edges!, x);
  return f < c.edges!.length - 1 ? f : -1;
}

/** True when model value (group) g of column c holds fine bin f. */
function groupHolds(c: ModelColumn, g: number, f: number): boolean {
  return f >= 0 && c.groups[g]!.fine.includes(f);
}

/**
 * How record values are drawn from the model's conditional distributions.
 * - 'round' (default; Private-PGM's `synthetic_data(method='round')`, McKenna et al.): the m
 *   records of a parent configuration get ⌊m·p_v⌋ copies of each value v, the remaining ones
 *   go to distinct values chosen with probability ∝ the fractional parts, and the values are
 *   shuffled over the records. The synthetic marginals then follow the model up to rounding,
 *   without the multinomial sampling error of independent draws.
 * - 'iid': every record draws its value independently (plain ancestral sampling).
 */
export type SamplingMethod = 'round' | 'iid';

/** `m` value indices for `m` records from probabilities `p` (see SamplingMethod). */
export function allocate(p: readonly number[], m: number, rng: RandomSource, method: SamplingMethod): Int32Array {
  const out = new Int32Array(m);
  if (method === 'iid') {
    for (let r = 0; r < m; r++) out[r] = drawIndex(p, rng);
    return out;
  }
  let total = 0;
  for (const x of p) total += x > 0 ? x : 0;
  const k = p.length;
  const want = p.map((x) => (total > 0 ? (x > 0 ? x : 0) / total : 1 / k) * m);
  const count = want.map((x) => Math.floor(x));
  const frac = want.map((x, v) => x - count[v]!);
  let extra = m - count.reduce((a, b) => a + b, 0);
  while (extra > 0) {
    const sum = frac.reduce((a, b) => a + b, 0);
    const v = sum > 0 ? drawIndex(frac.map((f) => f / sum), rng) : Math.floor(uniform01(rng) * k);
    count[v]! += 1;
    frac[v] = 0;
    extra--;
  }
  let r = 0;
  for (let v = 0; v < k; v++) for (let c = 0; c < count[v]!; c++) out[r++] = v;
  for (let i = m - 1; i > 0; i--) {
    const j = Math.floor(uniform01(rng) * (i + 1));
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}

/** Record indices grouped by key (keys in [0, size)), each group in record order. */
function groupBy(keys: Int32Array, size: number): number[][] {
  const groups: number[][] = Array.from({ length: size }, () => []);
  for (let r = 0; r < keys.length; r++) groups[keys[r]!]!.push(r);
  return groups;
}

/**
 * Columns in the order their values are drawn: the right side of every constraint before its
 * left side (schema.ts guarantees at most one right side per column and no cycle).
 */
function valueOrder(d: number, rightOf: Map<number, number>): number[] {
  const depth = (i: number): number => {
    let k = 0;
    for (let x = rightOf.get(i); x !== undefined; x = rightOf.get(x)) k++;
    return k;
  };
  return Array.from({ length: d }, (_, i) => i).sort((a, b) => depth(a) - depth(b) || a - b);
}

/**
 * Samples `rows` records. Returns per column, per record: a level index (categorical, −1 for
 * missing) or a number (numeric, NaN for missing), in the model's column order.
 *
 * Constraints `left ≤ right` (schema.ts) hold by construction: the right column's values are
 * drawn first; a left value drawn above its row's right value is drawn again from its model
 * value's fine weights truncated to bins with a value ≤ right (or, when that model value has
 * none, from the column's conditional distribution given the row's parents, truncated the same
 * way), then within the bin at most right. Every row's left value is thus a draw from the
 * model's distribution truncated at the row's right value: rows that satisfied the constraint
 * keep their values, violating rows move below their right value, so the left column's margin
 * shifts down by the model's violation mass (none when the model already respects the relation).
 * A constraint with `ties` then makes left = right in every row whose left value lies in the left
 * column's fine bin that holds the right value (the model cannot tell a tie from a near-tie inside
 * one bin; for a time censored at the follow-up time the near-ties are ties). A constraint with an
 * `event` indicator (a categorical column, drawn before: categorical columns are never a side of a
 * constraint, so they come first in valueOrder) decides instead, row by row: the event level
 * makes left < right (a left value ≥ right is drawn again, truncated strictly below right), any
 * other level makes left = right; a row whose indicator is missing follows the `ties` rule. Where
 * right is at left's min, no left value lies below it: the row gets left = right and the
 * indicator the first other level (the indicator is derived from the times, [left < right]).
 */
export function sampleColumns(
  model: SynthModel, rows: number, seed: string, method: SamplingMethod = 'round', constraints: readonly ColumnConstraint[] = [],
): { names: string[]; values: (number[])[]; missing: boolean[][] } {
  if (!Number.isSafeInteger(rows) || rows < 0) throw new RangeError(`rows: expected a non-negative integer, got ${rows}`);
  const rng = samplingRandom(seed);
  const d = model.columns.length;
  const index = new Map(model.columns.map((c, i) => [c.name, i]));
  const rightOf = new Map<number, number>();
  const ties = new Set<number>();
  const events = new Map<number, { column: number; level: number; censored: number }>();
  for (const k of constraints) {
    const [l, r] = [index.get(k.left), index.get(k.right)];
    if (l === undefined || r === undefined) throw new RangeError(`constraint ${k.left} <= ${k.right}: the model has no column "${l === undefined ? k.left : k.right}"`);
    if (model.columns[l]!.type === 'categorical' || model.columns[r]!.type === 'categorical') throw new RangeError(`constraint ${k.left} <= ${k.right}: both columns must be numeric`);
    rightOf.set(l, r);
    if (k.ties) ties.add(l);
    if (k.event) {
      const e = index.get(k.event.column);
      const levels = e === undefined ? [] : model.columns[e]!.levels;
      const level = levels.indexOf(k.event.value);
      const censored = levels.findIndex((x, j) => j !== level && x !== MISSING_LEVEL);
      if (e === undefined || model.columns[e]!.type !== 'categorical' || level < 0 || censored < 0) {
        throw new RangeError(`constraint ${k.left} <= ${k.right}: the model has no categorical column "${k.event.column}" with the level "${k.event.value.slice(0, 40)}" and another`);
      }
      events.set(l, { column: e, level, censored });
    }
  }
  const v = model.columns.map(() => new Int32Array(rows));
  for (const i of model.order) {
    // model values, parents first, by parent configuration
    const parents = model.parents[i]!;
    const config = new Int32Array(rows);
    for (const p of parents) {
      const size = model.columns[p]!.groups.length;
      for (let r = 0; r < rows; r++) config[r] = config[r]! * size + v[p]![r]!;
    }
    groupBy(config, model.cpt[i]!.length).forEach((members, row) => {
      const got = allocate(model.cpt[i]![row]!, members.length, rng, method);
      members.forEach((r, j) => { v[i]![r] = got[j]!; });
    });
  }
  const values = model.columns.map(() => new Array<number>(rows));
  const missing = model.columns.map(() => new Array<boolean>(rows));
  for (const i of valueOrder(d, rightOf)) {
    // a fine value within each model value, then a value within the fine bin
    const c = model.columns[i]!;
    groupBy(v[i]!, c.groups.length).forEach((members, gi) => {
      const g = c.groups[gi]!;
      const got = allocate(g.weights, members.length, rng, method);
      members.forEach((r, j) => {
        const f = g.fine[got[j]!]!;
        const isMissing = c.levels[f] === MISSING_LEVEL;
        missing[i]![r] = isMissing;
        values[i]![r] = c.type === 'categorical' ? (isMissing ? -1 : f) : valueInBin(c, f, rng);
      });
    });
    const right = rightOf.get(i);
    if (right === undefined) continue;
    const ev = events.get(i);
    for (let r = 0; r < rows; r++) {
      const cap = values[right]![r]!;
      const x = values[i]![r]!;
      if (Number.isNaN(cap) || Number.isNaN(x)) continue;
      const e = ev === undefined ? -1 : values[ev.column]![r]!;
      if (ev !== undefined && e >= 0) {
        // the row's indicator decides: the event happened before right (left < right), or left is censored at right (left = right)
        if (e !== ev.level) values[i]![r] = Math.min(c.max!, Math.max(c.min!, cap));
        else if (x >= cap) {
          const below = strictlyBelow(c, cap);
          if (below >= c.min!) values[i]![r] = truncatedValue(model, i, v, r, below, rng);
          else {
            // right is at left's min, so the event cannot come before it: the derived indicator says censored
            values[i]![r] = cap;
            values[ev.column]![r] = ev.censored;
          }
        }
        continue;
      }
      if (x > cap) values[i]![r] = truncatedValue(model, i, v, r, cap, rng);
      if (ties.has(i) && cap >= c.min! && cap <= c.max! && groupHolds(c, v[i]![r]!, fineBinOf(c, cap))) values[i]![r] = cap;
    }
  }
  return { names: model.columns.map((c) => c.name), values, missing };
}

/**
 * The largest value of numeric column c below `cap` that stays below it in the CSV: one grid
 * step down on a grid; otherwise two units of the sixth significant digit down (the CSV writes
 * six, formatNumber).
 */
function strictlyBelow(c: ModelColumn, cap: number): number {
  const step = stepOf(c);
  if (step !== undefined) return onGrid(cap - step, step);
  const unit = cap === 0 ? 1e-6 * (c.max! - c.min!) : 10 ** (Math.floor(Math.log10(Math.abs(cap))) - 5);
  return cap - 2 * unit;
}

/**
 * A value of numeric column i for record r at most `cap`: a fine bin from the record's model
 * value's weights restricted to bins holding a value ≤ cap; when there is none, from every model
 * value's bins weighted by p(value | the record's parents) × the fine weight; never `(missing)`.
 */
function truncatedValue(model: SynthModel, i: number, v: Int32Array[], r: number, cap: number, rng: RandomSource): number {
  const c = model.columns[i]!;
  const bins = c.edges!.length - 1;
  const pick = (cands: { f: number; w: number }[]): number | undefined => {
    const ok = cands.filter((x) => x.f < bins && x.w > 0 && lowestInBin(c, x.f) <= cap);
    const z = ok.reduce((a, x) => a + x.w, 0);
    return z > 0 ? ok[drawIndex(ok.map((x) => x.w / z), rng)]!.f : undefined;
  };
  const g = c.groups[v[i]![r]!]!;
  let f = pick(g.fine.map((fi, k) => ({ f: fi, w: g.weights[k]! })));
  if (f === undefined) {
    let config = 0;
    for (const p of model.parents[i]!) config = config * model.columns[p]!.groups.length + v[p]![r]!;
    const row = model.cpt[i]![config]!;
    f = pick(c.groups.flatMap((gg, gi) => gg.fine.map((fi, k) => ({ f: fi, w: row[gi]! * gg.weights[k]! }))));
  }
  if (f === undefined) {
    // nothing below cap carries weight: the lowest value of the bin holding cap
    const e = c.edges!;
    let k = 0;
    while (k < bins - 1 && e[k + 1]! <= cap) k++;
    return Math.min(cap, lowestInBin(c, k));
  }
  return valueInBin(c, f, rng, cap);
}

function formatNumber(x: number, type: ModelColumn['type']): string {
  if (Number.isNaN(x)) return '';
  if (type === 'integer') return String(x);
  return String(Number(x.toPrecision(6)));
}

/**
 * Samples `rows` records as CSV text with the schema's header (identifier columns get the
 * synthetic row number 1..rows), loadable with the same schema.
 */
export function sampleCsv(model: SynthModel, schema: Schema, rows: number, seed: string, method: SamplingMethod = 'round'): string {
  const s = sampleColumns(model, rows, seed, method, schema.constraints ?? []);
  const index = new Map(s.names.map((n, i) => [n, i]));
  const header = schema.columns.map((c) => c.name);
  const body: string[][] = [];
  for (let r = 0; r < rows; r++) {
    body.push(schema.columns.map((c) => {
      if (c.type === 'identifier') return String(r + 1);
      const i = index.get(c.name);
      if (i === undefined) throw new RangeError(`the model has no column "${c.name}" of the schema; fit it with this schema`);
      const col = model.columns[i]!;
      const x = s.values[i]![r]!;
      if (col.type === 'categorical') return x < 0 ? '' : col.levels[x]!;
      return formatNumber(x, col.type);
    }));
  }
  return formatCsv(header, body);
}
