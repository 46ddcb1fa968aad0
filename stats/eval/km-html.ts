/**
 * Kaplan–Meier curves as one self-contained HTML page in the style of the synthetic-data report
 * (stats/eval/html.ts): inline CSS and inline SVG, no scripts, no external resources. Each panel
 * draws the curves of one release as steps with their 95% band, optionally over a reference
 * release (e.g. the exact curves under a DP one, dashed), with labelled axes, a legend, the
 * medians and the log-rank test.
 */
import type { KaplanMeierCurve, KaplanMeierResult } from '../kinds/types.ts';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface KmPanel {
  title: string;
  result: KaplanMeierResult;
  /** Drawn dashed under the result (same strata), e.g. the exact curves. */
  reference?: KaplanMeierResult;
  referenceLabel?: string;
}

const W = 560;
const H = 320;
const L = 56;
const R = 150;
const T = 30;
const B = 44;

/** Step path of (time, value) points starting at (0, 1). */
function steps(times: number[], values: (number | null)[], x: (t: number) => number, y: (s: number) => number, start = 1): string {
  let d = `M${x(0).toFixed(1)},${y(start).toFixed(1)}`;
  times.forEach((t, i) => {
    const v = values[i];
    if (v !== null && v !== undefined) d += ` H${x(t).toFixed(1)} V${y(v).toFixed(1)}`;
  });
  return d;
}

function band(c: KaplanMeierCurve, x: (t: number) => number, y: (s: number) => number): string {
  const pts: [number, number, number][] = [];
  c.time.forEach((t, i) => {
    const lo = c.lower[i];
    const hi = c.upper[i];
    if (lo !== null && lo !== undefined && hi !== null && hi !== undefined) pts.push([t, lo, hi]);
  });
  if (pts.length === 0) return '';
  // Steps of the upper bound forward, of the lower bound back.
  let d = `M${x(pts[0]![0]).toFixed(1)},${y(pts[0]![2]).toFixed(1)}`;
  for (let i = 1; i < pts.length; i++) d += ` H${x(pts[i]![0]).toFixed(1)} V${y(pts[i]![2]).toFixed(1)}`;
  for (let i = pts.length - 1; i >= 1; i--) d += ` V${y(pts[i]![1]).toFixed(1)} H${x(pts[i - 1]![0]).toFixed(1)}`;
  d += ` V${y(pts[0]![1]).toFixed(1)} Z`;
  return d;
}

function panel(p: KmPanel): string {
  const curves = p.result.curves;
  const tmax = Math.max(1, ...curves.flatMap((c) => c.time), ...(p.reference?.curves.flatMap((c) => c.time) ?? []));
  const x = (t: number): number => L + ((W - L - R) * t) / tmax;
  const y = (s: number): number => T + (H - T - B) * (1 - Math.max(0, Math.min(1, s)));
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="${esc(p.title)}">`;
  svg += `<text x="${L}" y="16" font-size="13" font-weight="bold">${esc(p.title)}</text>`;
  for (const s of [0, 0.25, 0.5, 0.75, 1]) {
    svg += `<line x1="${L}" x2="${W - R}" y1="${y(s)}" y2="${y(s)}" stroke="#ddd"/><text x="${L - 6}" y="${y(s) + 4}" font-size="10" text-anchor="end">${s}</text>`;
  }
  for (let k = 0; k <= 4; k++) {
    const t = (tmax * k) / 4;
    svg += `<text x="${x(t)}" y="${H - B + 14}" font-size="10" text-anchor="middle">${Math.round(t)}</text>`;
  }
  svg += `<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/><line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#333"/>`;
  svg += `<text x="${(L + W - R) / 2}" y="${H - 8}" font-size="11" text-anchor="middle">${esc(p.result.time)} (grid-binned)</text>`;
  svg += `<text x="14" y="${(T + H - B) / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 14 ${(T + H - B) / 2})">survival</text>`;
  curves.forEach((c, i) => {
    const color = COLORS[i % COLORS.length]!;
    svg += `<path d="${band(c, x, y)}" fill="${color}" fill-opacity="0.15" stroke="none"/>`;
    const ref = p.reference?.curves.find((r) => r.stratum === c.stratum);
    if (ref) svg += `<path d="${steps(ref.time, ref.surv, x, y)}" fill="none" stroke="${color}" stroke-width="1.2" stroke-dasharray="4 3"/>`;
    svg += `<path d="${steps(c.time, c.surv, x, y)}" fill="none" stroke="${color}" stroke-width="1.8"/>`;
    const ly = T + 6 + i * 30;
    svg += `<rect x="${W - R + 12}" y="${ly}" width="10" height="10" fill="${color}"/><text x="${W - R + 26}" y="${ly + 9}" font-size="11">${esc(c.stratum ?? 'all rows')} (n ${Math.round(c.n)})</text>`;
    svg += `<text x="${W - R + 26}" y="${ly + 22}" font-size="10">median ${c.median === null ? 'not reached' : Math.round(c.median)}</text>`;
  });
  if (p.reference) {
    const ly = T + 6 + curves.length * 30;
    svg += `<line x1="${W - R + 12}" x2="${W - R + 24}" y1="${ly + 5}" y2="${ly + 5}" stroke="#333" stroke-dasharray="4 3"/><text x="${W - R + 28}" y="${ly + 9}" font-size="10">${esc(p.referenceLabel ?? 'reference')}</text>`;
  }
  svg += '</svg>';
  const lr = p.result.logRank;
  const test = lr ? `<p>log-rank χ² = ${lr.chisq === null ? '—' : lr.chisq.toFixed(2)} on ${lr.df} df, p = ${lr.p === null ? '—' : lr.p.toPrecision(3)}</p>` : '';
  const notes = p.result.notes.length ? `<ul>${p.result.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '';
  return `<section><figure>${svg}<figcaption>Steps: survival; shaded: 95% confidence band (log transform${p.result.notes.some((n) => /noise/.test(n)) ? ', including the DP noise' : ''}).</figcaption></figure>${test}${notes}</section>`;
}

export function renderKmHtml(title: string, panels: KmPanel[]): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}section{display:inline-block;vertical-align:top;margin:0 1em 1em 0}figcaption,p,li{font-size:12px}</style></head>
<body><h1>${esc(title)}</h1>${panels.map(panel).join('\n')}</body></html>
`;
}
