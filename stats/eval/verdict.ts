/**
 * The report's summary verdict: each criterion's value against a pass and a fail threshold the
 * steward can set (a JSON file of `{ "<criterion>": { "pass": x, "fail": y } }`, any subset),
 * giving pass / review / fail; the overall verdict is the worst of the criteria that apply
 * (a criterion without a value — no outcome column, no constraints — is "n/a" and not counted).
 * With repeated fits the criterion is judged on the mean over the fits. Defaults in docs/synth.md.
 */

export type Grade = 'pass' | 'review' | 'fail' | 'n/a';

export interface Threshold {
  pass: number;
  fail: number;
}

export interface CriterionDef {
  label: string;
  /** "higher": value ≥ pass passes, < fail fails; "lower": value ≤ pass passes, > fail fails. */
  better: 'higher' | 'lower';
  /** The names SDMetrics / synthcity give the metric, for comparison. */
  literature: string;
}

export const CRITERIA = {
  columnShapes: { label: 'column shapes (mean per-column quality)', better: 'higher', literature: 'SDMetrics Column Shapes: mean KSComplement / TVComplement' },
  pairTrends: { label: 'pair trends (mean over all pairs)', better: 'higher', literature: 'SDMetrics Column Pair Trends: CorrelationSimilarity / ContingencySimilarity' },
  boundaryAdherence: { label: 'numbers inside the real range (worst column)', better: 'higher', literature: 'SDMetrics BoundaryAdherence' },
  categoryAdherence: { label: 'categories seen in the real data (worst column)', better: 'higher', literature: 'SDMetrics CategoryAdherence' },
  missingRateError: { label: 'missing-rate error (worst column, absolute)', better: 'lower', literature: 'SDMetrics MissingValueSimilarity = 1 − error' },
  constraintViolations: { label: 'rows violating a schema constraint (worst constraint)', better: 'lower', literature: 'SDV constraint validity' },
  copiesBeyondChance: { label: 'exact copies of training rows beyond the holdout baseline', better: 'lower', literature: 'synthcity / SDMetrics NewRowSynthesis = 1 − copies' },
  tstrGap: { label: 'TRTR − TSTR AUC', better: 'lower', literature: 'synthcity performance.linear_model (TSTR); SDMetrics ML efficacy' },
  dcrCloserToTrain: { label: 'DCR: share closer to training than holdout', better: 'lower', literature: 'SDMetrics DCROverfittingProtection = min(1, 2(1 − share))' },
  membershipInferenceAuc: { label: 'membership-inference AUC', better: 'lower', literature: 'synthcity privacy.DomiasMIA (distance baseline)' },
} as const satisfies Record<string, CriterionDef>;

export type Criterion = keyof typeof CRITERIA;

export const DEFAULT_THRESHOLDS: Record<Criterion, Threshold> = {
  columnShapes: { pass: 0.85, fail: 0.7 },
  pairTrends: { pass: 0.85, fail: 0.7 },
  boundaryAdherence: { pass: 0.99, fail: 0.95 },
  categoryAdherence: { pass: 0.999, fail: 0.99 },
  missingRateError: { pass: 0.02, fail: 0.05 },
  constraintViolations: { pass: 0, fail: 0.01 },
  copiesBeyondChance: { pass: 0.005, fail: 0.02 },
  tstrGap: { pass: 0.05, fail: 0.1 },
  dcrCloserToTrain: { pass: 0.55, fail: 0.6 },
  membershipInferenceAuc: { pass: 0.55, fail: 0.6 },
};

export class ThresholdsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ThresholdsError';
  }
}

/** Thresholds from parsed JSON over the defaults; unknown criteria and inconsistent pairs are refused. */
export function parseThresholds(json: unknown): Record<Criterion, Threshold> {
  const out = { ...DEFAULT_THRESHOLDS };
  if (json === undefined || json === null) return out;
  if (typeof json !== 'object' || Array.isArray(json)) throw new ThresholdsError('thresholds: expected a JSON object of { "<criterion>": { "pass": x, "fail": y } }');
  for (const [k, v] of Object.entries(json)) {
    if (!(k in CRITERIA)) throw new ThresholdsError(`thresholds: unknown criterion ${JSON.stringify(k.slice(0, 40))} (known: ${Object.keys(CRITERIA).join(', ')})`);
    const c = k as Criterion;
    const t = { ...out[c], ...(typeof v === 'object' && v !== null ? v : {}) } as Record<string, unknown>;
    if (typeof t['pass'] !== 'number' || typeof t['fail'] !== 'number' || !Number.isFinite(t['pass']) || !Number.isFinite(t['fail'])) {
      throw new ThresholdsError(`thresholds.${c}: give finite numbers "pass" and "fail"`);
    }
    const [pass, fail] = [t['pass'], t['fail']];
    if (CRITERIA[c].better === 'higher' ? pass < fail : pass > fail) {
      throw new ThresholdsError(`thresholds.${c}: ${CRITERIA[c].better} is better, so pass (${pass}) must be ${CRITERIA[c].better === 'higher' ? '≥' : '≤'} fail (${fail})`);
    }
    out[c] = { pass, fail };
  }
  return out;
}

export function grade(c: Criterion, value: number | null, t: Threshold): Grade {
  if (value === null || Number.isNaN(value)) return 'n/a';
  if (CRITERIA[c].better === 'higher') return value >= t.pass ? 'pass' : value < t.fail ? 'fail' : 'review';
  return value <= t.pass ? 'pass' : value > t.fail ? 'fail' : 'review';
}

export interface VerdictLine {
  criterion: Criterion;
  value: number | null;
  /** Standard deviation over repeated fits (when there are several). */
  sd: number | null;
  grade: Grade;
}

export interface Verdict {
  overall: Exclude<Grade, 'n/a'>;
  lines: VerdictLine[];
}

export function verdict(values: Record<Criterion, number | null>, thresholds: Record<Criterion, Threshold>, sds: Partial<Record<Criterion, number | null>> = {}): Verdict {
  const lines = (Object.keys(CRITERIA) as Criterion[]).map((c) => ({ criterion: c, value: values[c], sd: sds[c] ?? null, grade: grade(c, values[c], thresholds[c]) }));
  const overall = lines.some((l) => l.grade === 'fail') ? 'fail' : lines.some((l) => l.grade === 'review') ? 'review' : 'pass';
  return { overall, lines };
}
