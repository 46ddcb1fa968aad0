/**
 * Sampling synthetic records from a fitted model (no privacy cost: post-processing). Seeded and
 * reproducible: randomness comes only from an AES-256-CTR keystream (crypto/dp/random.ts) keyed
 * by SHA-256 of the seed string, never Math.random. Each record: ancestral sampling of the model
 * values along the tree (parents first), then a fine value within each model value (by the noisy
 * one-way weights), then a value within the fine bin: uniform for numeric columns, a uniform
 * integer for integer columns, clamped to the schema bounds; "(missing)" is an empty field.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { seededRandomSource, type RandomSource } from '../../crypto/dp/random.ts';
import { utf8 } from '../../crypto/bytes.ts';
import { formatCsv } from '../csv.ts';
import { MISSING_LEVEL } from '../schema.ts';
import type { Schema } from '../schema.ts';
import { onGrid } from './discretize.ts';
import type { ModelColumn, SynthModel } from './model.ts';

/** A uniform float in [0, 1) with 53 random bits. */
export function uniform01(rng: RandomSource): number {
  const hi = rng.uint32() >>> 5; // 27 bits
  const lo = rng.uint32() >>> 6; // 26 bits
  return (hi * 67108864 + lo) / 9007199254740992;
}

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

/** A value inside fine bin f of a numeric/integer column (NaN for "(missing)"). */
function valueInBin(c: ModelColumn, f: number, rng: RandomSource): number {
  const e = c.edges!;
  if (f >= e.length - 1) return NaN;
  const lo = Math.max(e[f]!, c.min!);
  const hi = Math.min(e[f + 1]!, c.max!);
  const last = f === e.length - 2;
  const step = c.step ?? (c.type === 'integer' ? 1 : undefined);
  if (step !== undefined) {
    // grid values k·step with lo ≤ k·step < hi (≤ hi in the last bin)
    const a = Math.ceil(lo / step - 1e-9);
    const top = hi / step;
    const b = last || Math.abs(top - Math.round(top)) > 1e-9 ? Math.floor(top + 1e-9) : Math.round(top) - 1;
    const k = b < a ? a : a + Math.floor(uniform01(rng) * (b - a + 1));
    return Math.min(c.max!, Math.max(c.min!, onGrid(k * step, step)));
  }
  return lo + uniform01(rng) * (hi - lo);
}

/**
 * Samples `rows` records. Returns per column, per record: a level index (categorical, −1 for
 * missing) or a number (numeric, NaN for missing), in the model's column order.
 */
export function sampleColumns(model: SynthModel, rows: number, seed: string): { names: string[]; values: (number[])[]; missing: boolean[][] } {
  if (!Number.isSafeInteger(rows) || rows < 0) throw new RangeError(`rows: expected a non-negative integer, got ${rows}`);
  const rng = samplingRandom(seed);
  const d = model.columns.length;
  const values = model.columns.map(() => new Array<number>(rows));
  const missing = model.columns.map(() => new Array<boolean>(rows));
  const v = new Int32Array(d);
  for (let r = 0; r < rows; r++) {
    for (const i of model.order) {
      let row = 0;
      for (const p of model.parents[i]!) row = row * model.columns[p]!.groups.length + v[p]!;
      v[i] = drawIndex(model.cpt[i]![row]!, rng);
    }
    for (let i = 0; i < d; i++) {
      const c = model.columns[i]!;
      const g = c.groups[v[i]!]!;
      const f = g.fine[drawIndex(g.weights, rng)]!;
      const isMissing = c.levels[f] === MISSING_LEVEL;
      missing[i]![r] = isMissing;
      values[i]![r] = c.type === 'categorical' ? (isMissing ? -1 : f) : valueInBin(c, f, rng);
    }
  }
  return { names: model.columns.map((c) => c.name), values, missing };
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
export function sampleCsv(model: SynthModel, schema: Schema, rows: number, seed: string): string {
  const s = sampleColumns(model, rows, seed);
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
