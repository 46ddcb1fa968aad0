/**
 * Inline SVG charts of the report (generated here: no scripts, no external resources). Each
 * chart is a <figure> whose title is an HTML <figcaption> that wraps (never cut), with the full
 * title also as a tooltip; axis labels longer than a few characters are shortened with "…" and
 * carry their full text in a <title>. SVGs have a viewBox and scale down to the page width.
 */

export const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
export const REAL_COLOR = '#7f7f7f';

export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A label shortened to `max` characters (full text kept for a tooltip). */
export function short(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function svgText(x: number, y: number, label: string, max: number, attrs = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${label.length > max ? `<title>${esc(label)}</title>` : ''}${esc(short(label, max))}</text>`;
}

export function figure(title: string, svg: string, note = ''): string {
  return `<figure><figcaption class="chart-title" title="${esc(title)}">${esc(title)}</figcaption>${svg}${note ? `<p class="fig-note">${note}</p>` : ''}</figure>`;
}

function svgOpen(w: number, h: number, label: string): string {
  return `<svg viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="${esc(label)}" font-size="10">`;
}

export interface Series {
  label: string;
  colour: string;
  values: (number | null)[];
}

/** Grouped vertical bars: one group per category label, one bar per series; legend below. */
export function groupedBars(title: string, labels: string[], series: Series[], opts: { yLabel?: string; maxWidth?: number } = {}): string {
  const gw = Math.max(14, series.length * 7 + 6);
  const left = 44;
  const w = Math.min(opts.maxWidth ?? 1100, Math.max(360, left + 10 + labels.length * gw));
  const groupW = (w - left - 10) / Math.max(1, labels.length);
  const bw = Math.max(1.5, (groupW - 4) / series.length);
  const top = 8;
  const plotH = 140;
  const labelH = 74;
  const legendH = 14 * series.length + 4;
  const h = top + plotH + labelH + legendH;
  const max = Math.max(1e-9, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null)));
  let out = '';
  for (const f of [0, 0.5, 1]) {
    const y = top + plotH - f * plotH;
    out += `<line x1="${left - 2}" x2="${w - 5}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#ddd"/><text x="${left - 4}" y="${(y + 3).toFixed(1)}" text-anchor="end">${(f * max).toFixed(max < 0.1 ? 3 : 2)}</text>`;
  }
  labels.forEach((l, i) => {
    const x0 = left + i * groupW;
    series.forEach((s, k) => {
      const v = s.values[i];
      if (v === null || v === undefined) return;
      const bh = (v / max) * plotH;
      out += `<rect x="${(x0 + 2 + k * bw).toFixed(1)}" y="${(top + plotH - bh).toFixed(1)}" width="${Math.max(1, bw - 0.5).toFixed(1)}" height="${bh.toFixed(1)}" fill="${s.colour}"><title>${esc(`${s.label} — ${l}: ${v.toFixed(4)}`)}</title></rect>`;
    });
    const cx = x0 + groupW / 2;
    out += svgText(cx, top + plotH + 10, l, 12, `text-anchor="end" transform="rotate(-45 ${cx.toFixed(1)} ${top + plotH + 10})"`);
  });
  series.forEach((s, k) => {
    const y = top + plotH + labelH + k * 14;
    out += `<rect x="${left}" y="${y}" width="10" height="10" fill="${s.colour}"/>${svgText(left + 14, y + 9, s.label, Math.floor((w - left - 20) / 5.5), 'font-size="11"')}`;
  });
  if (opts.yLabel) out += svgText(4, top + 4, opts.yLabel, 10, 'font-size="9" fill="#555"');
  return figure(title, `${svgOpen(w, h, title)}${out}</svg>`);
}

/** Diverging colour of v in [−scale, scale]: blue negative, white 0, red positive; grey undefined. */
export function divergingColour(v: number | null, scale: number): string {
  if (v === null || Number.isNaN(v)) return '#e8e8e8';
  const t = Math.max(-1, Math.min(1, v / scale));
  const a = Math.round(255 * (1 - Math.abs(t)));
  return t >= 0 ? `rgb(255,${a},${a})` : `rgb(${a},${a},255)`;
}

/**
 * A matrix as a heat map with its colour scale (a gradient bar from −scale to +scale with tick
 * values, and the grey of undefined cells). Every cell has its value as a tooltip.
 */
export function heatmap(title: string, names: string[], m: (number | null)[][], scale: number, what: string): string {
  const n = names.length;
  const cell = Math.max(12, Math.min(26, Math.floor(560 / Math.max(1, n))));
  const left = 96;
  const top = 82;
  const gridW = n * cell;
  const legendX = left + gridW + 48;
  const w = legendX + 110;
  const h = Math.max(top + gridW + 10, 260);
  let s = '';
  names.forEach((name, i) => {
    s += svgText(left - 4, top + i * cell + cell / 2 + 3, name, 15, 'text-anchor="end"');
    const x = left + i * cell + cell / 2 + 3;
    s += svgText(x, top - 4, name, 12, `transform="rotate(-60 ${x} ${top - 4})"`);
    m[i]!.forEach((v, j) => {
      s += `<rect x="${left + j * cell}" y="${top + i * cell}" width="${cell - 1}" height="${cell - 1}" fill="${divergingColour(v, scale)}"><title>${esc(`${name} × ${names[j]}: ${v === null ? 'undefined' : v.toFixed(3)}`)}</title></rect>`;
    });
  });
  // the colour scale
  const id = `g${Math.abs(hash(title)).toString(36)}`;
  const barH = 150;
  s += `<defs><linearGradient id="${id}" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${divergingColour(scale, scale)}"/><stop offset="0.5" stop-color="#ffffff"/><stop offset="1" stop-color="${divergingColour(-scale, scale)}"/></linearGradient></defs>`;
  s += `<g class="colour-scale"><text x="${legendX}" y="${top - 14}" font-size="10">${esc(short(what, 22))}</text><rect x="${legendX}" y="${top}" width="14" height="${barH}" fill="url(#${id})" stroke="#999"/>`;
  for (const f of [1, 0.5, 0, -0.5, -1]) {
    const y = top + ((1 - f) / 2) * barH;
    s += `<line x1="${legendX + 14}" x2="${legendX + 18}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#666"/><text x="${legendX + 21}" y="${(y + 3).toFixed(1)}">${(f * scale).toFixed(2)}</text>`;
  }
  s += `<rect x="${legendX}" y="${top + barH + 10}" width="14" height="10" fill="${divergingColour(null, scale)}" stroke="#999"/><text x="${legendX + 21}" y="${top + barH + 19}">undefined</text></g>`;
  return figure(title, `${svgOpen(w, h, title)}${s}</svg>`);
}

function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** Overlaid histograms of two distance samples on one scale (e.g. DCR to training sample vs holdout). */
export function twoHistograms(title: string, a: number[], b: number[], labels: [string, string]): string {
  const bins = 20;
  const max = Math.max(1e-9, ...a, ...b);
  const hist = (xs: number[]): number[] => {
    const h = new Array<number>(bins).fill(0);
    for (const x of xs) h[Math.min(bins - 1, Math.floor((x / max) * bins))]!++;
    return h.map((c) => c / Math.max(1, xs.length));
  };
  const ha = hist(a);
  const hb = hist(b);
  const top = Math.max(1e-9, ...ha, ...hb);
  const w = 340;
  const ph = 110;
  const bw = (w - 20) / bins;
  const bars = (h: number[], colour: string, off: number): string => h.map((v, i) => `<rect x="${(10 + i * bw + off).toFixed(1)}" y="${(8 + ph - (v / top) * ph).toFixed(1)}" width="${(bw / 2).toFixed(1)}" height="${((v / top) * ph).toFixed(1)}" fill="${colour}"/>`).join('');
  const body = `${bars(ha, '#d62728', 0)}${bars(hb, '#1f77b4', bw / 2)}<text x="10" y="${ph + 22}">0</text><text x="${w - 10}" y="${ph + 22}" text-anchor="end">${max.toFixed(3)}</text>` +
    `<rect x="10" y="${ph + 30}" width="10" height="8" fill="#d62728"/>${svgText(24, ph + 38, labels[0], 40)}<rect x="10" y="${ph + 44}" width="10" height="8" fill="#1f77b4"/>${svgText(24, ph + 52, labels[1], 40)}`;
  return figure(title, `${svgOpen(w, ph + 60, title)}${body}</svg>`);
}
