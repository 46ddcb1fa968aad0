/**
 * Validity checks of a synthetic dataset against the real training data and the schema:
 *   - range (SDMetrics BoundaryAdherence): share of a numeric column's present synthetic values
 *     inside the real data's observed [min, max]; values outside the schema bounds counted apart
 *     (rows the loader rejected or clipped never get here: the CLI reports them when loading);
 *   - categories (SDMetrics CategoryAdherence and CategoryCoverage): share of synthetic values in
 *     a level the real data has, and share of the real levels the synthetic data has;
 *   - missing rates, real and synthetic (missing values must be neither erased nor invented);
 *   - schema constraints between columns (`constraints: [{ type: "le", left, right }]`): rows of
 *     the synthetic (and, for reference, the real) data where both are present and left > right,
 *     and with an `event` indicator the rows where it disagrees with the times.
 */
import type { Dataset } from '../dataset.ts';
import type { Schema } from '../schema.ts';
import { dataColumns } from './encode.ts';
import { eventMismatches, leCounts } from './structure.ts';

export interface ColumnCheck {
  name: string;
  numeric: boolean;
  missingReal: number;
  missingSynthetic: number;
  /** Numeric: the real observed range and the synthetic shares below / above it and outside the schema bounds. */
  realMin?: number;
  realMax?: number;
  belowRealMin?: number;
  aboveRealMax?: number;
  outsideSchema?: number;
  /** BoundaryAdherence (numeric) or CategoryAdherence (categorical): share of present values that are valid. */
  adherence: number;
  /** Categorical: CategoryCoverage and the synthetic levels the real data never has. */
  coverage?: number;
  unseenLevels?: string[];
}

export interface ConstraintCheck {
  type: string;
  left: string;
  right: string;
  /** null when the constraint is of a type this report does not check. */
  syntheticViolations: number | null;
  syntheticShare: number | null;
  realViolations: number | null;
  /** Share of rows with both sides present where left = right (a point mass on the diagonal). */
  realTieShare: number | null;
  syntheticTieShare: number | null;
  /** With an `event` indicator: rows where it disagrees with the times (counted in syntheticShare); null without one. */
  event?: { column: string; value: string };
  realEventMismatches: number | null;
  syntheticEventMismatches: number | null;
  note?: string;
}

export interface SchemaConstraint {
  type: string;
  left: string;
  right: string;
  event?: { column: string; value: string };
}

/** The schema's optional constraints (added by the synthesizer's schema extension), read defensively. */
export function schemaConstraints(schema: Schema): SchemaConstraint[] {
  const c = (schema as { constraints?: unknown }).constraints;
  if (!Array.isArray(c)) return [];
  return c.filter((x): x is SchemaConstraint => typeof x === 'object' && x !== null && typeof (x as SchemaConstraint).type === 'string' &&
    typeof (x as SchemaConstraint).left === 'string' && typeof (x as SchemaConstraint).right === 'string');
}

const missingShare = (d: Dataset, name: string): number => {
  const c = d.columns.get(name);
  if (!c || d.rowCount === 0) return 0;
  let m = 0;
  if (c.kind === 'numeric') for (const x of c.values) m += Number.isNaN(x) ? 1 : 0;
  else for (const x of c.codes) m += x < 0 ? 1 : 0;
  return m / d.rowCount;
};

export function columnChecks(schema: Schema, real: Dataset, synth: Dataset): ColumnCheck[] {
  return dataColumns(schema).map((col) => {
    const base = { name: col.name, numeric: col.numeric, missingReal: missingShare(real, col.name), missingSynthetic: missingShare(synth, col.name) };
    const rc = real.columns.get(col.name);
    const sc = synth.columns.get(col.name);
    if (rc?.kind === 'numeric' && sc?.kind === 'numeric') {
      const spec = schema.columns.find((c) => c.name === col.name)!;
      let lo = Infinity;
      let hi = -Infinity;
      for (const x of rc.values) if (!Number.isNaN(x)) [lo, hi] = [Math.min(lo, x), Math.max(hi, x)];
      let n = 0;
      let below = 0;
      let above = 0;
      let outside = 0;
      for (const x of sc.values) {
        if (Number.isNaN(x)) continue;
        n++;
        if (x < lo) below++;
        if (x > hi) above++;
        if ((spec.min !== undefined && x < spec.min) || (spec.max !== undefined && x > spec.max)) outside++;
      }
      const share = (k: number): number => (n ? k / n : 0);
      return { ...base, realMin: lo, realMax: hi, belowRealMin: share(below), aboveRealMax: share(above), outsideSchema: share(outside), adherence: 1 - share(below + above) };
    }
    if (rc?.kind !== 'categorical' || sc?.kind !== 'categorical') throw new TypeError(`column "${col.name}" has different kinds in the real and synthetic data`);
    const realSeen = new Set<number>();
    for (const x of rc.codes) if (x >= 0) realSeen.add(x);
    const synthSeen = new Map<number, number>();
    let n = 0;
    for (const x of sc.codes) {
      if (x < 0) continue;
      n++;
      synthSeen.set(x, (synthSeen.get(x) ?? 0) + 1);
    }
    let invalid = 0;
    const unseen: string[] = [];
    for (const [k, c] of synthSeen) {
      if (realSeen.has(k)) continue;
      invalid += c;
      unseen.push(sc.levels[k]!);
    }
    let covered = 0;
    for (const k of realSeen) if (synthSeen.has(k)) covered++;
    return { ...base, adherence: n ? 1 - invalid / n : 1, coverage: realSeen.size ? covered / realSeen.size : 1, unseenLevels: unseen };
  });
}

/**
 * Rows with left > right (missing is no violation), the share of rows with both present where
 * left = right, and with an event indicator the rows where it disagrees with the times.
 */
function violations(d: Dataset, c: SchemaConstraint): { violations: number; tieShare: number; mismatches: number | null } {
  const a = d.columns.get(c.left);
  const b = d.columns.get(c.right);
  if (a?.kind !== 'numeric' || b?.kind !== 'numeric') throw new TypeError(`constraint ${c.left} <= ${c.right}: both must be numeric columns`);
  const k = leCounts(d, c.left, c.right);
  return { violations: k.violations, tieShare: k.checked ? k.ties / k.checked : 0, mismatches: c.event ? eventMismatches(d, c.left, c.right, c.event) : null };
}

export function constraintChecks(schema: Schema, real: Dataset, synth: Dataset): ConstraintCheck[] {
  return schemaConstraints(schema).map((c) => {
    const unchecked = { syntheticViolations: null, syntheticShare: null, realViolations: null, realTieShare: null, syntheticTieShare: null, realEventMismatches: null, syntheticEventMismatches: null };
    const base = { type: c.type, left: c.left, right: c.right, ...(c.event ? { event: c.event } : {}) };
    if (c.type !== 'le') return { ...base, ...unchecked, note: `constraint type "${c.type}" is not checked by this report` };
    try {
      const [s, re] = [violations(synth, c), violations(real, c)];
      const bad = s.violations + (s.mismatches ?? 0);
      return {
        ...base, syntheticViolations: s.violations, syntheticShare: synth.rowCount ? bad / synth.rowCount : 0,
        realViolations: re.violations, realTieShare: re.tieShare, syntheticTieShare: s.tieShare,
        realEventMismatches: re.mismatches, syntheticEventMismatches: s.mismatches,
      };
    } catch (e) {
      return { ...base, ...unchecked, note: (e as Error).message };
    }
  });
}
