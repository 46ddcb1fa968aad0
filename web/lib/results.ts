/**
 * A released result on the page: its numbers as a table (every numeric field, with the DP noise
 * standard deviation the aggregator computed for it), a plot where the kind has one, and
 * downloads as CSV (statistic, value, noise_sd) or JSON (the whole GetResult answer, with the
 * result parsed). Post-processing only: nothing here changes a released value.
 */
import { GetResultResponse } from '../../gen/blindsum/v1/blindsum.ts';
import type { QueryResult } from '../../stats/kinds/types.ts';
import { numericFields } from '../../stats/result.ts';
import { el } from './dom.ts';
import { barChart, intervalPlot, kmPlot } from './plots.ts';

export interface ParsedResult {
  response: GetResultResponse;
  result: QueryResult | undefined;
  uncertainty: Record<string, number | null>;
}

export function parseResult(r: GetResultResponse): ParsedResult {
  const json = <T>(s: string, d: T): T => {
    try {
      return s ? (JSON.parse(s) as T) : d;
    } catch {
      return d;
    }
  };
  return { response: r, result: json<QueryResult | undefined>(r.resultJson, undefined), uncertainty: json<Record<string, number | null>>(r.uncertaintyJson, {}) };
}

const show = (x: number | null | undefined): string => (x === null || x === undefined ? '—' : Number.isInteger(x) ? String(x) : x.toPrecision(6));

/** Rows of (statistic, value, noise sd). */
export function resultRows(p: ParsedResult): [string, number | null, number | null][] {
  if (!p.result) return [];
  return numericFields(p.result).map(([name, v]) => [name, v, p.uncertainty[name] ?? null]);
}

export function resultTable(p: ParsedResult, maxRows = 200): HTMLTableElement {
  const rows = resultRows(p);
  const dp = p.response.rhoCharged > 0;
  return el('table', { class: 'results' },
    el('caption', {}, `${rows.length} statistics${rows.length > maxRows ? ` (first ${maxRows} shown; the download has all)` : ''}`),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'statistic'), el('th', { scope: 'col' }, 'value'), dp ? el('th', { scope: 'col' }, 'DP noise sd') : null)),
    el('tbody', {}, ...rows.slice(0, maxRows).map(([n, v, sd]) => el('tr', {}, el('th', { scope: 'row' }, n), el('td', { 'data-value': v === null ? '' : String(v) }, show(v)), dp ? el('td', {}, show(sd)) : null))),
  );
}

const interval = (est: number[], se: (number | null)[], sign: 1 | -1): (number | null)[] => est.map((b, i) => (se[i] === null || se[i] === undefined ? null : b + sign * 1.96 * se[i]!));

/** A plot for the kinds that have one (undefined otherwise). */
export function resultPlot(r: QueryResult): SVGSVGElement | undefined {
  switch (r.kind) {
    case 'histogram':
      return barChart(`histogram of ${r.column}`, r.counts.map((_c, i) => `≥${r.edges[i]}`), r.counts, r.column, r.counts.map((_c, i) => `[${r.edges[i]}, ${r.edges[i + 1]})`));
    case 'frequency':
      return barChart(`frequency of ${r.column}`, r.levels, r.counts, r.column);
    case 'kaplan_meier':
      return kmPlot(`Kaplan–Meier survival (${r.time})`, r.curves.map((c) => ({ label: c.stratum ?? 'all', time: c.time, surv: c.surv, lower: c.lower, upper: c.upper })), r.time);
    case 'linear_regression': case 'logistic_regression': case 'poisson_regression': case 'cox': {
      // The intercept (on another scale than the slopes) is in the table, not the plot.
      const keep = r.terms.map((t, i) => (t.toLowerCase() === '(intercept)' ? -1 : i)).filter((i) => i >= 0);
      const pick = <T>(xs: T[]): T[] => keep.map((i) => xs[i]!);
      const lo = interval(r.coefficients, r.standardErrors, -1);
      const hi = interval(r.coefficients, r.standardErrors, 1);
      return intervalPlot(`coefficients (${r.kind}; intercept in the table)`, pick(r.terms), pick(r.coefficients), pick(lo), pick(hi));
    }
    default:
      return undefined;
  }
}

function csvCell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function resultCsv(p: ParsedResult): string {
  return ['statistic,value,noise_sd', ...resultRows(p).map(([n, v, sd]) => [csvCell(n), v === null ? '' : String(v), sd === null ? '' : String(sd)].join(','))].join('\n') + '\n';
}

export function resultJson(p: ParsedResult): string {
  return JSON.stringify({ ...(GetResultResponse.toJSON(p.response) as object), result: p.result ?? null, uncertainty: p.uncertainty }, null, 2) + '\n';
}

/** A download link for `text` (an object URL: allowed by the CSP's img/blob policy, no inline data). */
export function downloadLink(label: string, filename: string, type: string, text: string): HTMLAnchorElement {
  const url = URL.createObjectURL(new Blob([text], { type }));
  return el('a', { href: url, download: filename, class: 'download' }, label);
}
