/**
 * Structural checks of a synthetic dataset against the real one (docs/synth.md, issue 18 item 3):
 * schema constraints between columns, point masses, missing rates and the range of numeric
 * columns. Each is a plain count or share on the two datasets; the evaluation report and the
 * bench quote them.
 */
import type { Column, Dataset } from '../dataset.ts';
import { MISSING_LEVEL, type Schema } from '../schema.ts';
import { pointMassValues } from '../synth/discretize.ts';

export interface ConstraintCheck {
  constraint: string;
  /** Rows where both sides are present. */
  checked: number;
  /** Rows where left > right. */
  violations: number;
  /** Rows where left = right. */
  ties: number;
  /**
   * With an `event` indicator: rows with both sides and the indicator present and left ≤ right
   * where it disagrees with the times (the event with left = right, or no event with left < right);
   * 0 without one. Disjoint from `violations`.
   */
  eventMismatches: number;
}

export interface ColumnShareCheck {
  column: string;
  real: number;
  synthetic: number;
  /** |real − synthetic| (shares, 0..1). */
  error: number;
}

export interface RangeCheck {
  column: string;
  realMin: number;
  realMax: number;
  /** Share of the synthetic present values outside [realMin, realMax]. */
  outside: number;
  /** Synthetic present values outside the schema bounds (0 for a correct synthesizer). */
  outsideBounds: number;
}

export interface StructureReport {
  constraints: ConstraintCheck[];
  /** Share of each numeric column's rows exactly at a point-mass value (0), real vs synthetic. */
  pointMasses: (ColumnShareCheck & { value: number })[];
  missingRates: ColumnShareCheck[];
  ranges: RangeCheck[];
  /** Per `le` constraint, the share of rows (both sides present) with left = right, real vs synthetic. */
  tieShares: ColumnShareCheck[];
  /** Summary: total violations (left > right, and indicator disagreements), largest point-mass and missing-rate errors, largest outside-range share. */
  constraintViolations: number;
  maxPointMassError: number;
  maxMissingRateError: number;
  maxOutsideRange: number;
  maxTieShareError: number;
}

function isMissing(col: Column, r: number): boolean {
  if (col.kind === 'numeric') return Number.isNaN(col.values[r]!);
  const k = col.codes[r]!;
  return k < 0 || col.levels[k] === MISSING_LEVEL;
}

function numericValues(d: Dataset, name: string): Float64Array {
  const c = d.columns.get(name);
  if (c?.kind !== 'numeric') throw new TypeError(`dataset has no numeric column "${name}"`);
  return c.values;
}

/** Rows of `d` with both columns present (checked), with left > right (violations) and with left = right (ties). */
export function leCounts(d: Dataset, left: string, right: string): { checked: number; violations: number; ties: number } {
  const [l, r] = [numericValues(d, left), numericValues(d, right)];
  let checked = 0;
  let violations = 0;
  let ties = 0;
  for (let i = 0; i < d.rowCount; i++) {
    if (Number.isNaN(l[i]!) || Number.isNaN(r[i]!)) continue;
    checked++;
    if (l[i]! > r[i]!) violations++;
    else if (l[i]! === r[i]!) ties++;
  }
  return { checked, violations, ties };
}

/**
 * Rows of `d` with left, right and the event indicator present and left ≤ right (a row with
 * left > right is a violation already) whose indicator disagrees with the times: the event level
 * with left = right, or another level with left < right.
 */
export function eventMismatches(d: Dataset, left: string, right: string, event: { column: string; value: string }): number {
  const [l, r] = [numericValues(d, left), numericValues(d, right)];
  const e = d.columns.get(event.column);
  if (e?.kind !== 'categorical') throw new TypeError(`dataset has no categorical column "${event.column}"`);
  const level = e.levels.indexOf(event.value);
  let n = 0;
  for (let i = 0; i < d.rowCount; i++) {
    const k = e.codes[i]!;
    if (Number.isNaN(l[i]!) || Number.isNaN(r[i]!) || k < 0 || e.levels[k] === MISSING_LEVEL || l[i]! > r[i]!) continue;
    if (k === level ? l[i]! >= r[i]! : l[i]! !== r[i]!) n++;
  }
  return n;
}

/** Rows violating each `le` constraint of the schema (rows with a side missing are not checked), its ties and indicator disagreements. */
export function constraintChecks(schema: Schema, d: Dataset): ConstraintCheck[] {
  return (schema.constraints ?? []).map((k) => ({
    constraint: `${k.left} <= ${k.right}`, ...leCounts(d, k.left, k.right), eventMismatches: k.event ? eventMismatches(d, k.left, k.right, k.event) : 0,
  }));
}

const share = (count: number, n: number): number => (n > 0 ? count / n : 0);

/** Point masses, missing rates, ranges and constraints of `synthetic` against `real`. */
export function structureChecks(schema: Schema, real: Dataset, synthetic: Dataset): StructureReport {
  const pointMasses: StructureReport['pointMasses'] = [];
  const missingRates: ColumnShareCheck[] = [];
  const ranges: RangeCheck[] = [];
  for (const spec of schema.columns) {
    if (spec.type === 'identifier') continue;
    const [rc, sc] = [real.columns.get(spec.name), synthetic.columns.get(spec.name)];
    if (!rc || !sc) throw new TypeError(`column "${spec.name}" missing from a dataset`);
    let [rm, sm] = [0, 0];
    for (let i = 0; i < real.rowCount; i++) if (isMissing(rc, i)) rm++;
    for (let i = 0; i < synthetic.rowCount; i++) if (isMissing(sc, i)) sm++;
    const [a, b] = [share(rm, real.rowCount), share(sm, synthetic.rowCount)];
    missingRates.push({ column: spec.name, real: a, synthetic: b, error: Math.abs(a - b) });
    if (rc.kind !== 'numeric' || sc.kind !== 'numeric') continue;
    let [lo, hi] = [Infinity, -Infinity];
    for (const x of rc.values) if (!Number.isNaN(x)) [lo, hi] = [Math.min(lo, x), Math.max(hi, x)];
    let [outside, bounds, present] = [0, 0, 0];
    for (const x of sc.values) {
      if (Number.isNaN(x)) continue;
      present++;
      if (x < lo || x > hi) outside++;
      if (x < spec.min! || x > spec.max!) bounds++;
    }
    ranges.push({ column: spec.name, realMin: lo, realMax: hi, outside: share(outside, present), outsideBounds: bounds });
    for (const v of pointMassValues(spec.min!, spec.max!)) {
      let [rv, sv] = [0, 0];
      for (const x of rc.values) if (x === v) rv++;
      for (const x of sc.values) if (x === v) sv++;
      const [p, q] = [share(rv, real.rowCount), share(sv, synthetic.rowCount)];
      pointMasses.push({ column: spec.name, value: v, real: p, synthetic: q, error: Math.abs(p - q) });
    }
  }
  const constraints = constraintChecks(schema, synthetic);
  const tieShares = constraintChecks(schema, real).map((rc, k) => {
    const sc = constraints[k]!;
    const [a, b] = [share(rc.ties, rc.checked), share(sc.ties, sc.checked)];
    return { column: rc.constraint.replace('<=', '='), real: a, synthetic: b, error: Math.abs(a - b) };
  });
  const max = (xs: number[]): number => xs.reduce((m, x) => Math.max(m, x), 0);
  return {
    constraints, pointMasses, missingRates, ranges, tieShares,
    constraintViolations: constraints.reduce((s, c) => s + c.violations + c.eventMismatches, 0),
    maxPointMassError: max(pointMasses.map((p) => p.error)),
    maxMissingRateError: max(missingRates.map((m) => m.error)),
    maxOutsideRange: max(ranges.map((r) => r.outside)),
    maxTieShareError: max(tieShares.map((t) => t.error)),
  };
}
