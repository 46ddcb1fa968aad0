/** kaplan_meier results: their numeric fields (for comparisons and DP uncertainty) and R-like tables. */
import type { KaplanMeierResult } from './types.ts';

type Leaf = number | null;

/** The numeric fields after `n`, in a fixed order with their paths (result.ts numericFields). */
export function kaplanMeierFields(r: KaplanMeierResult): [string, Leaf][] {
  const out: [string, Leaf][] = [];
  const vec = (name: string, xs: Leaf[]): void => xs.forEach((x, i) => out.push([`${name}[${i}]`, x]));
  r.curves.forEach((c, g) => {
    const p = `curves[${g}]`;
    out.push([`${p}.n`, c.n], [`${p}.events`, c.events]);
    vec(`${p}.time`, c.time);
    vec(`${p}.nRisk`, c.nRisk);
    vec(`${p}.nEvent`, c.nEvent);
    vec(`${p}.nCensor`, c.nCensor);
    vec(`${p}.surv`, c.surv);
    vec(`${p}.stdErr`, c.stdErr);
    vec(`${p}.lower`, c.lower);
    vec(`${p}.upper`, c.upper);
    if (c.noiseStdErr) vec(`${p}.noiseStdErr`, c.noiseStdErr);
    out.push([`${p}.median`, c.median], [`${p}.medianLower`, c.medianLower], [`${p}.medianUpper`, c.medianUpper]);
    vec(`${p}.atRisk`, c.atRisk);
  });
  if (r.logRank) {
    vec('logRank.observed', r.logRank.observed);
    vec('logRank.expected', r.logRank.expected);
    out.push(['logRank.chisq', r.logRank.chisq], ['logRank.df', r.logRank.df], ['logRank.p', r.logRank.p]);
  }
  return out;
}

/**
 * R-like text: print(survfit)'s table (n, events, median, 0.95LCL, 0.95UCL), then per curve
 * summary(survfit, censored = TRUE)'s table, the numbers at risk at the report times, and
 * print(survdiff)'s table with its χ² line. `fmt`/`table` are result.ts's number and table printers.
 */
export function formatKaplanMeier(r: KaplanMeierResult, fmt: (x: Leaf) => string, table: (rows: string[][]) => string): string[] {
  const na = (x: Leaf): string => (x === null ? 'NA' : fmt(x));
  const name = (s: string | null): string => (s === null ? 'all' : `${r.strata}=${s}`);
  const lines: string[] = [];
  lines.push(`Kaplan-Meier: Surv(${r.time}, ${r.event} in {${r.positive.join(', ')}})${r.strata ? ` ~ ${r.strata}` : ''}; times are grid bins' upper edges`);
  lines.push(table([['', 'n', 'events', 'median', '0.95LCL', '0.95UCL'], ...r.curves.map((c) => [name(c.stratum), fmt(c.n), fmt(c.events), na(c.median), na(c.medianLower), na(c.medianUpper)])]));
  for (const c of r.curves) {
    lines.push('', `${name(c.stratum)}:`);
    const rows = [['time', 'n.risk', 'n.event', 'n.censor', 'survival', 'std.err', 'lower 95% CI', 'upper 95% CI']];
    c.time.forEach((t, i) => rows.push([fmt(t), fmt(c.nRisk[i]!), fmt(c.nEvent[i]!), fmt(c.nCensor[i]!), fmt(c.surv[i]!), na(c.stdErr[i]!), na(c.lower[i]!), na(c.upper[i]!)]));
    lines.push(rows.length > 1 ? table(rows) : '(no times)');
  }
  if (r.times.length > 0) {
    lines.push('', 'numbers at risk');
    lines.push(table([['time', ...r.curves.map((c) => name(c.stratum))], ...r.times.map((t, k) => [fmt(t), ...r.curves.map((c) => fmt(c.atRisk[k]!))])]));
  }
  const lr = r.logRank;
  if (lr) {
    lines.push('', 'log-rank test (survdiff, rho = 0)');
    const n = (s: string): Leaf => r.curves.find((c) => c.stratum === s)?.n ?? null;
    lines.push(table([['', 'N', 'Observed', 'Expected', '(O-E)^2/E'], ...lr.strata.map((s, g) => {
      const e = lr.expected[g]!;
      return [name(s), na(n(s)), fmt(lr.observed[g]!), fmt(e), e > 0 ? fmt((lr.observed[g]! - e) ** 2 / e) : 'NA'];
    })]));
    lines.push(`Chisq = ${na(lr.chisq)} on ${lr.df} degrees of freedom, p = ${na(lr.p)}`);
  }
  return lines;
}
