/** Comparing and printing query results. */
import { formatKaplanMeier, kaplanMeierFields } from './kinds/km-format.ts';
import { coxFields, formatCox } from './kinds/cox-print.ts';
import type { QueryResult } from './kinds/types.ts';
import { DROP_REASONS } from './dataset.ts';

type Leaf = number | null;

/** The numeric fields of a result, flattened in a fixed order with their paths. */
export function numericFields(r: QueryResult): [string, Leaf][] {
  const out: [string, Leaf][] = [['n', r.n]];
  const vec = (name: string, xs: Leaf[]): void => xs.forEach((x, i) => out.push([`${name}[${i}]`, x]));
  const mat = (name: string, m: Leaf[][]): void => m.forEach((row, i) => vec(`${name}[${i}]`, row));
  switch (r.kind) {
    case 'count': break;
    case 'sum': out.push(['sum', r.sum]); break;
    case 'mean': out.push(['mean', r.mean]); break;
    case 'variance': out.push(['mean', r.mean], ['variance', r.variance], ['sd', r.sd]); break;
    case 'histogram': vec('counts', r.counts); out.push(['below', r.below], ['above', r.above]); break;
    case 'frequency': vec('counts', r.counts); break;
    case 'contingency': mat('counts', r.counts); break;
    case 'covariance': vec('means', r.means); mat('matrix', r.matrix); break;
    case 'correlation': mat('matrix', r.matrix); break;
    case 'linear_regression':
      vec('coefficients', r.coefficients); vec('standardErrors', r.standardErrors);
      out.push(['residualStdError', r.residualStdError], ['rSquared', r.rSquared]);
      break;
    case 'marginal': r.tables.forEach((t, i) => vec(`tables[${i}].counts`, t.counts)); break;
    case 'logistic_regression': case 'poisson_regression':
      vec('coefficients', r.coefficients); vec('standardErrors', r.standardErrors); vec('zValues', r.zValues); vec('pValues', r.pValues);
      out.push(['deviance', r.deviance], ['nullDeviance', r.nullDeviance], ['aic', r.aic]);
      vec('nextCoefficients', r.nextCoefficients);
      break;
    case 'kaplan_meier': out.push(...kaplanMeierFields(r)); break;
    case 'cox': out.push(...coxFields(r)); break;
    case 'train_round': out.push(['meanLoss', r.meanLoss], ['gradientNorm', r.gradientNorm]); vec('parameters', r.parameters); break;
    case 'train_evaluate':
      out.push(['positives', r.positives], ['auc', r.auc], ['accuracy', r.accuracy], ['logLoss', r.logLoss], ['brier', r.brier], ['ece', r.ece]);
      vec('positiveCounts', r.positiveCounts); vec('negativeCounts', r.negativeCounts); vec('observed', r.calibration.map((c) => c.observed));
      break;
    case 'population':
      out.push(['loaded', r.loaded]);
      for (const reason of DROP_REASONS) out.push([`dropped.${reason}`, r.dropped[reason]]);
      out.push(['droppedTotal', r.droppedTotal], ['clipped', r.clipped]);
      break;
  }
  return out;
}

/**
 * Largest absolute and relative difference over all numeric fields (relative to the larger
 * magnitude; 0 when both are 0). A field null on one side only counts as an infinite difference.
 */
export function compareResults(a: QueryResult, b: QueryResult): { maxAbsDiff: number; maxRelDiff: number } {
  if (a.kind !== b.kind) throw new TypeError(`compareResults: kinds differ (${a.kind} vs ${b.kind})`);
  const fa = numericFields(a);
  const fb = numericFields(b);
  if (fa.length !== fb.length) throw new RangeError(`compareResults: shapes differ (${fa.length} vs ${fb.length} fields)`);
  let maxAbsDiff = 0;
  let maxRelDiff = 0;
  for (let i = 0; i < fa.length; i++) {
    const x = fa[i]![1];
    const y = fb[i]![1];
    if (x === null && y === null) continue;
    if (x === null || y === null) return { maxAbsDiff: Infinity, maxRelDiff: Infinity };
    const d = Math.abs(x - y);
    const scale = Math.max(Math.abs(x), Math.abs(y));
    maxAbsDiff = Math.max(maxAbsDiff, d);
    if (scale > 0) maxRelDiff = Math.max(maxRelDiff, d / scale);
  }
  return { maxAbsDiff, maxRelDiff };
}

function fmt(x: Leaf): string {
  if (x === null) return '—';
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-4 || a >= 1e9)) return x.toExponential(4);
  return x.toPrecision(6).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
}

/** A p value as R prints it: below 2e-16 as "< 2e-16". */
function fmtP(x: Leaf): string {
  if (x === null) return '—';
  return x < 2e-16 ? '< 2e-16' : x.toPrecision(3);
}

/** A plain-text table: first row is the header; columns padded, numbers right-aligned. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => (r[j] ?? '').length)));
  return rows
    .map((r) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ').trimEnd())
    .join('\n');
}

/** Readable table(s) for the terminal. */
export function formatResult(r: QueryResult): string {
  const lines: string[] = [];
  switch (r.kind) {
    case 'count': lines.push(`count: ${fmt(r.n)}`); break;
    case 'sum': lines.push(table([['column', 'n', 'sum'], [r.column, fmt(r.n), fmt(r.sum)]])); break;
    case 'mean': lines.push(table([['column', 'n', 'mean'], [r.column, fmt(r.n), fmt(r.mean)]])); break;
    case 'variance':
      lines.push(table([['column', 'n', 'mean', 'variance', 'sd'], [r.column, fmt(r.n), fmt(r.mean), fmt(r.variance), fmt(r.sd)]]));
      break;
    case 'histogram': {
      const k = r.counts.length;
      const rows = [[`${r.column} bin`, 'count']];
      rows.push([`< ${r.edges[0]}`, fmt(r.below)]);
      for (let i = 0; i < k; i++) rows.push([`[${r.edges[i]}, ${r.edges[i + 1]}${i === k - 1 ? ']' : ')'}`, fmt(r.counts[i]!)]);
      rows.push([`> ${r.edges[k]}`, fmt(r.above)]);
      lines.push(table(rows), `n = ${fmt(r.n)}`);
      break;
    }
    case 'frequency':
      lines.push(table([[r.column, 'count'], ...r.levels.map((l, i) => [l, fmt(r.counts[i]!)])]), `n = ${fmt(r.n)}`);
      break;
    case 'contingency':
      lines.push(table([[`${r.rowColumn} \\ ${r.colColumn}`, ...r.colLevels], ...r.rowLevels.map((l, i) => [l, ...r.counts[i]!.map(fmt)])]), `n = ${fmt(r.n)}`);
      break;
    case 'covariance':
    case 'correlation':
      lines.push(`${r.kind} matrix`, table([['', ...r.columns], ...r.columns.map((c, i) => [c, ...r.matrix[i]!.map(fmt)])]), `n = ${fmt(r.n)}`);
      break;
    case 'linear_regression':
      lines.push(
        `linear regression of ${r.target}`,
        table([['term', 'estimate', 'std. error'], ...r.terms.map((t, i) => [t, fmt(r.coefficients[i]!), fmt(r.standardErrors[i] ?? null)])]),
        `residual std. error ${fmt(r.residualStdError)} on ${r.dfResidual} df; R² = ${fmt(r.rSquared)}; n = ${fmt(r.n)}`,
      );
      break;
    case 'logistic_regression': case 'poisson_regression':
      lines.push(
        `${r.kind === 'logistic_regression' ? 'logistic' : 'Poisson'} regression of ${r.target} (family ${r.family}, link ${r.link})`,
        table([['', 'Estimate', 'Std. Error', 'z value', 'Pr(>|z|)'], ...r.terms.map((t, i) => [t, fmt(r.coefficients[i]!), fmt(r.standardErrors[i] ?? null), fmt(r.zValues[i] ?? null), fmtP(r.pValues[i] ?? null)])]),
        `    Null deviance: ${fmt(r.nullDeviance)}  on ${r.dfNull}  degrees of freedom`,
        `Residual deviance: ${fmt(r.deviance)}  on ${r.dfResidual}  degrees of freedom`,
        `AIC: ${fmt(r.aic)}; n = ${fmt(r.n)}${r.iterations !== undefined ? `; rounds: ${r.iterations}${r.converged ? '' : ' (not converged)'}` : ''}`,
      );
      break;
    case 'marginal':
      for (const t of r.tables) {
        const cols = t.columns.map((i) => r.columns[i]!);
        let cells: string[][] = [[]];
        for (const i of t.columns) cells = cells.flatMap((prefix) => r.levels[i]!.map((l) => [...prefix, l]));
        lines.push(table([[...cols, 'count'], ...cells.map((c, j) => [...c, fmt(t.counts[j]!)])]));
      }
      lines.push(`n = ${fmt(r.n)}`);
      break;
    case 'kaplan_meier':
      lines.push(...formatKaplanMeier(r, fmt, table));
      break;
    case 'cox': lines.push(formatCox(r)); break;
    case 'train_round':
      lines.push(`training round: ${fmt(r.n)} rows, mean log loss ${fmt(r.meanLoss)}, clipped gradient sum norm ${fmt(r.gradientNorm)}${r.iterations !== undefined ? `; ${r.iterations} rounds` : ''}`);
      lines.push(`parameters (${r.parameters.length}): ${r.parameters.slice(0, 12).map((x) => fmt(x)).join(', ')}${r.parameters.length > 12 ? ', …' : ''}`);
      break;
    case 'train_evaluate':
      lines.push(`evaluation of P(${r.target} in {${r.positive.join(', ')}}) on ${r.holdout > 0 ? `the held-out rows (fraction ${r.holdout})` : 'the training rows'}: n = ${fmt(r.n)}, positives ${fmt(r.positives)}`);
      lines.push(`AUC ${fmt(r.auc)}, accuracy at 0.5 ${fmt(r.accuracy)}, log loss ${fmt(r.logLoss)}, Brier ${fmt(r.brier)}, ECE ${fmt(r.ece)}`);
      lines.push(table([['bin', 'rows', 'label 1', 'predicted', 'observed'], ...r.calibration.map((c, b) => [`${b === 0 ? '[' : '('}${fmt(c.lo)}, ${fmt(c.hi)}]`, fmt(c.count), fmt(r.positiveCounts[b]!), fmt(c.predicted), fmt(c.observed)])]));
      break;
    case 'population':
      lines.push('population used by the parties\' loads (all parties)', table([
        ['rows', 'count'], ['loaded', fmt(r.loaded)], ...DROP_REASONS.map((reason) => [`dropped: ${reason}`, fmt(r.dropped[reason])]),
        ['dropped in all', fmt(r.droppedTotal)], ['loaded with a clipped value', fmt(r.clipped)],
      ]));
      break;
  }
  for (const note of r.notes) lines.push(`note: ${note}`);
  return lines.join('\n');
}
