/** The numeric fields of a cox result (for comparisons) and its text, laid out as R's summary(coxph). */
import type { CoxResult, CoxTest } from './cox-types.ts';

type Leaf = number | null;

/** The numeric fields compared by compareResults, in a fixed order with their paths (after n). */
export function coxFields(r: CoxResult): [string, Leaf][] {
  const out: [string, Leaf][] = [['events', r.events]];
  const vec = (name: string, xs: Leaf[]): void => xs.forEach((x, i) => out.push([`${name}[${i}]`, x]));
  vec('coefficients', r.coefficients);
  vec('hazardRatios', r.hazardRatios);
  vec('standardErrors', r.standardErrors);
  vec('z', r.z);
  vec('p', r.p);
  vec('lower95', r.lower95);
  vec('upper95', r.upper95);
  out.push(['loglik', r.loglik], ['loglikNull', r.loglikNull]);
  for (const name of ['likelihoodRatio', 'wald', 'score'] as const) {
    const t = r[name];
    out.push([`${name}.statistic`, t?.statistic ?? null], [`${name}.p`, t?.p ?? null]);
  }
  return out;
}

/** x to `digits` significant digits, R style (exponent form below 1e-4). */
function sig(x: Leaf, digits: number): string {
  if (x === null || Number.isNaN(x)) return 'NA';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a < 1e-4 || a >= 1e15) return x.toExponential(Math.min(digits, 3) - 1);
  return x.toPrecision(digits);
}

function pValue(p: Leaf): string {
  if (p === null) return 'NA';
  return p < 2.2e-16 ? '<2e-16' : sig(p, 3);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => r[j]!.length)));
  return rows.map((r) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ').trimEnd()).join('\n');
}

function testLine(label: string, t: CoxTest | null): string {
  return t === null ? `${label}= NA` : `${label}= ${sig(t.statistic, 4)}  on ${t.df} df,   p=${pValue(t.p)}`;
}

/** The result as text: the coefficient table, the hazard ratios with CIs, the three tests. */
export function formatCox(r: CoxResult): string {
  const bins = r.edges.length - 1;
  const lines = [
    `Cox proportional hazards, Breslow ties on a grid of ${bins} time bins [${r.edges[0]}, ${r.edges[bins]}]`,
    `  Surv(${r.time}, ${r.event} ∈ {${r.positive.join(', ')}}) ~ ${r.terms.join(' + ')}`,
    `  n= ${r.n}, number of events= ${r.events}`,
    '',
    table([
      ['', 'coef', 'exp(coef)', 'se(coef)', 'z', 'Pr(>|z|)'],
      ...r.terms.map((t, i) => [t, sig(r.coefficients[i]!, 6), sig(r.hazardRatios[i]!, 6), sig(r.standardErrors[i]!, 6), sig(r.z[i]!, 4), pValue(r.p[i]!)]),
    ]),
    '',
    table([
      ['', 'exp(coef)', 'exp(-coef)', 'lower .95', 'upper .95'],
      ...r.terms.map((t, i) => [t, sig(r.hazardRatios[i]!, 5), sig(1 / r.hazardRatios[i]!, 5), sig(r.lower95[i]!, 5), sig(r.upper95[i]!, 5)]),
    ]),
    '',
    testLine('Likelihood ratio test', r.likelihoodRatio),
    testLine('Wald test            ', r.wald),
    testLine('Score (logrank) test ', r.score),
    `log partial likelihood ${sig(r.loglik, 10)} (at β = 0: ${sig(r.loglikNull, 10)})` +
      (r.iterations !== undefined ? `; ${r.iterations} rounds, ${r.converged ? 'converged' : 'not converged'}` : ''),
  ];
  return lines.join('\n');
}
