/**
 * Small SVG plots of query results, built as DOM nodes (no innerHTML, no inline style: the
 * console's CSP allows neither; colours are presentation attributes or classes in style.css):
 * bars (histogram, frequency), step curves with confidence bands (Kaplan–Meier) and estimates
 * with intervals (regression coefficients).
 */
const NS = 'http://www.w3.org/2000/svg';
const W = 560;
const H = 260;
const M = { left: 56, right: 16, top: 16, bottom: 48 };

type Attrs = Record<string, string | number>;

function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function frame(title: string): SVGSVGElement {
  const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': title, class: 'plot' });
  svg.appendChild(svgEl('title', {}, title));
  return svg;
}

function scale(lo: number, hi: number, a: number, b: number): (x: number) => number {
  const span = hi - lo || 1;
  return (x) => a + ((x - lo) / span) * (b - a);
}

const fmt = (x: number): string => (Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-2 && x !== 0) ? x.toExponential(1) : String(Number(x.toPrecision(3))));

/** Five ticks under the x axis from `lo` to `hi`. */
function xTicks(svg: SVGSVGElement, lo: number, hi: number, x: (v: number) => number): void {
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    svg.appendChild(svgEl('text', { x: x(v), y: H - M.bottom + 14, 'text-anchor': 'middle', class: 'tick' }, fmt(v)));
  }
}

function axes(svg: SVGSVGElement, yLo: number, yHi: number, y: (v: number) => number, xLabel: string): void {
  svg.appendChild(svgEl('line', { x1: M.left, y1: H - M.bottom, x2: W - M.right, y2: H - M.bottom, class: 'axis' }));
  svg.appendChild(svgEl('line', { x1: M.left, y1: M.top, x2: M.left, y2: H - M.bottom, class: 'axis' }));
  for (let i = 0; i <= 4; i++) {
    const v = yLo + ((yHi - yLo) * i) / 4;
    svg.appendChild(svgEl('text', { x: M.left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, fmt(v)));
  }
  svg.appendChild(svgEl('text', { x: (M.left + W - M.right) / 2, y: H - 8, 'text-anchor': 'middle', class: 'label' }, xLabel));
}

/** Vertical bars, one per label (noisy counts below 0 are drawn at 0); `tips` name the bars on hover. */
export function barChart(title: string, labels: string[], values: number[], xLabel: string, tips: string[] = labels): SVGSVGElement {
  const svg = frame(title);
  const hi = Math.max(1, ...values);
  const y = scale(0, hi, H - M.bottom, M.top);
  axes(svg, 0, hi, y, xLabel);
  const bw = (W - M.left - M.right) / Math.max(1, values.length);
  values.forEach((v, i) => {
    const x = M.left + i * bw;
    const top = y(Math.max(0, v));
    const bar = svgEl('rect', { x: x + 1, y: top, width: Math.max(1, bw - 2), height: H - M.bottom - top, class: 'bar' });
    bar.appendChild(svgEl('title', {}, `${tips[i]}: ${fmt(v)}`));
    svg.appendChild(bar);
    const every = Math.ceil(44 / bw); // a label every ~44 px at most
    if (i % every === 0) svg.appendChild(svgEl('text', { x: x + bw / 2, y: H - M.bottom + 14, 'text-anchor': 'middle', class: 'tick' }, labels[i] ?? ''));
  });
  return svg;
}

export interface StepCurve {
  label: string;
  time: number[];
  surv: number[];
  lower?: (number | null)[];
  upper?: (number | null)[];
}

/** Kaplan–Meier curves: survival steps from 1 at time 0, with their pointwise confidence band. */
export function kmPlot(title: string, curves: StepCurve[], xLabel: string): SVGSVGElement {
  const svg = frame(title);
  const tMax = Math.max(1, ...curves.flatMap((c) => c.time));
  const x = scale(0, tMax, M.left, W - M.right);
  const y = scale(0, 1, H - M.bottom, M.top);
  axes(svg, 0, 1, y, xLabel);
  xTicks(svg, 0, tMax, x);
  curves.forEach((c, k) => {
    const cls = `series-${k % 4}`;
    const step = (vals: (number | null)[]): string => {
      let d = `M ${x(0)} ${y(1)}`;
      let prev = 1;
      c.time.forEach((t, i) => {
        const v = vals[i] ?? prev;
        d += ` H ${x(t)} V ${y(Math.min(1, Math.max(0, v)))}`;
        prev = v;
      });
      return `${d} H ${x(tMax)}`;
    };
    if (c.lower && c.upper) {
      svg.appendChild(svgEl('path', { d: step(c.lower), class: `band ${cls}` }));
      svg.appendChild(svgEl('path', { d: step(c.upper), class: `band ${cls}` }));
    }
    svg.appendChild(svgEl('path', { d: step(c.surv), class: `curve ${cls}` }));
    svg.appendChild(svgEl('text', { x: W - M.right - 4, y: M.top + 14 + 14 * k, 'text-anchor': 'end', class: `legend ${cls}` }, c.label));
  });
  return svg;
}

/** Estimates with intervals (a forest plot): one row per term, a reference line at 0. */
export function intervalPlot(title: string, terms: string[], est: number[], lo: (number | null)[], hi: (number | null)[]): SVGSVGElement {
  const svg = frame(title);
  const all = [0, ...est, ...lo.filter((v): v is number => v !== null), ...hi.filter((v): v is number => v !== null)].filter(Number.isFinite);
  const left = 150;
  const [lo0, hi0] = [Math.min(...all), Math.max(...all)];
  const x = scale(lo0, hi0, left, W - M.right);
  const row = (H - M.top - M.bottom) / Math.max(1, terms.length);
  svg.appendChild(svgEl('line', { x1: x(0), y1: M.top, x2: x(0), y2: H - M.bottom, class: 'axis' }));
  svg.appendChild(svgEl('line', { x1: left, y1: H - M.bottom, x2: W - M.right, y2: H - M.bottom, class: 'axis' }));
  xTicks(svg, lo0, hi0, x);
  terms.forEach((t, i) => {
    const cy = M.top + row * (i + 0.5);
    svg.appendChild(svgEl('text', { x: left - 8, y: cy + 4, 'text-anchor': 'end', class: 'tick' }, t.length > 22 ? `${t.slice(0, 21)}…` : t));
    const l = lo[i];
    const h = hi[i];
    if (l !== null && l !== undefined && h !== null && h !== undefined && Number.isFinite(l) && Number.isFinite(h)) svg.appendChild(svgEl('line', { x1: x(l), y1: cy, x2: x(h), y2: cy, class: 'interval' }));
    const dot = svgEl('circle', { cx: x(est[i]!), cy, r: 4, class: 'point' });
    dot.appendChild(svgEl('title', {}, `${t}: ${fmt(est[i]!)} [${l === null || l === undefined ? '?' : fmt(l)}, ${h === null || h === undefined ? '?' : fmt(h)}]`));
    svg.appendChild(dot);
  });
  svg.appendChild(svgEl('text', { x: (left + W - M.right) / 2, y: H - 8, 'text-anchor': 'middle', class: 'label' }, 'estimate with 95% interval'));
  return svg;
}
