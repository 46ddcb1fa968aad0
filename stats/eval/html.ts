/**
 * The evaluation report as one self-contained HTML page: inline CSS and inline SVG plots, no
 * scripts and no external resources (it can be mailed or archived as is).
 */
import type { MethodReport, SynthReport } from './report.ts';

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function num(x: number | null | undefined, digits = 3): string {
  return x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(digits);
}

function legend(methods: MethodReport[], x: number, y: number): string {
  return methods.map((m, i) => `<rect x="${x}" y="${y + i * 16}" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/><text x="${x + 14}" y="${y + i * 16 + 9}" font-size="11">${esc(m.label)}</text>`).join('');
}

/** Grouped bars: one group per label, one bar per method. */
function groupedBars(title: string, labels: string[], values: (number | null)[][], methods: MethodReport[]): string {
  const w = Math.max(420, 40 + labels.length * (methods.length * 9 + 10));
  const h = 230;
  const top = 24;
  const plotH = 130;
  const max = Math.max(1e-9, ...values.flat().filter((v): v is number => v !== null));
  const gw = (w - 50) / labels.length;
  const bw = Math.max(2, (gw - 6) / methods.length);
  let bars = '';
  labels.forEach((l, i) => {
    methods.forEach((_, k) => {
      const v = values[k]![i];
      if (v === null || v === undefined) return;
      const bh = (v / max) * plotH;
      bars += `<rect x="${(45 + i * gw + k * bw).toFixed(1)}" y="${(top + plotH - bh).toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${bh.toFixed(1)}" fill="${COLORS[k % COLORS.length]}"><title>${esc(`${methods[k]!.label} ${l}: ${v.toFixed(4)}`)}</title></rect>`;
    });
    bars += `<text x="${(45 + i * gw + gw / 2).toFixed(1)}" y="${top + plotH + 12}" font-size="10" text-anchor="end" transform="rotate(-40 ${(45 + i * gw + gw / 2).toFixed(1)} ${top + plotH + 12})">${esc(l)}</text>`;
  });
  const axis = [0, 0.5, 1].map((f) => `<text x="40" y="${(top + plotH - f * plotH + 3).toFixed(1)}" font-size="10" text-anchor="end">${(f * max).toFixed(2)}</text><line x1="43" x2="${w - 5}" y1="${(top + plotH - f * plotH).toFixed(1)}" y2="${(top + plotH - f * plotH).toFixed(1)}" stroke="#ddd"/>`).join('');
  return `<figure><svg width="${w}" height="${h + methods.length * 16}" role="img" aria-label="${esc(title)}"><text x="5" y="14" font-size="13" font-weight="bold">${esc(title)}</text>${axis}${bars}${legend(methods, 45, h)}</svg></figure>`;
}

/** A correlation (or difference) matrix as a heat map, blue negative to red positive. */
function heatmap(title: string, names: string[], m: (number | null)[][], scale: number): string {
  const cell = 18;
  const left = 90;
  const top = 90;
  const colour = (v: number | null): string => {
    if (v === null) return '#eee';
    const t = Math.max(-1, Math.min(1, v / scale));
    const a = Math.round(255 * (1 - Math.abs(t)));
    return t >= 0 ? `rgb(255,${a},${a})` : `rgb(${a},${a},255)`;
  };
  let s = `<text x="5" y="14" font-size="13" font-weight="bold">${esc(title)}</text>`;
  names.forEach((n, i) => {
    s += `<text x="${left - 4}" y="${top + i * cell + 13}" font-size="10" text-anchor="end">${esc(n)}</text>`;
    s += `<text x="${left + i * cell + 12}" y="${top - 4}" font-size="10" transform="rotate(-60 ${left + i * cell + 12} ${top - 4})">${esc(n)}</text>`;
    m[i]!.forEach((v, j) => {
      s += `<rect x="${left + j * cell}" y="${top + i * cell}" width="${cell - 1}" height="${cell - 1}" fill="${colour(v)}"><title>${esc(`${n} × ${names[j]}: ${v === null ? 'undefined' : v.toFixed(3)}`)}</title></rect>`;
    });
  });
  return `<figure><svg width="${left + names.length * cell + 10}" height="${top + names.length * cell + 10}" role="img" aria-label="${esc(title)}">${s}</svg></figure>`;
}

/** Overlaid histograms of distances to the closest training and holdout record. */
function dcrHistogram(m: MethodReport): string {
  const bins = 20;
  const max = Math.max(1e-9, ...m.privacy.dcrTrain, ...m.privacy.dcrHoldout);
  const hist = (xs: number[]): number[] => {
    const h = new Array<number>(bins).fill(0);
    for (const x of xs) h[Math.min(bins - 1, Math.floor((x / max) * bins))]!++;
    return h.map((c) => c / Math.max(1, xs.length));
  };
  const a = hist(m.privacy.dcrTrain);
  const b = hist(m.privacy.dcrHoldout);
  const top = Math.max(1e-9, ...a, ...b);
  const w = 300;
  const ph = 100;
  const bw = (w - 20) / bins;
  const bars = (h: number[], colour: string, off: number): string => h.map((v, i) => `<rect x="${(10 + i * bw + off).toFixed(1)}" y="${(20 + ph - (v / top) * ph).toFixed(1)}" width="${(bw / 2).toFixed(1)}" height="${((v / top) * ph).toFixed(1)}" fill="${colour}"/>`).join('');
  return `<figure><svg width="${w}" height="160" role="img" aria-label="distance to closest record"><text x="5" y="14" font-size="12" font-weight="bold">${esc(m.label)}: distance to closest record</text>${bars(a, '#d62728', 0)}${bars(b, '#1f77b4', bw / 2)}<text x="10" y="${ph + 36}" font-size="10">0</text><text x="${w - 10}" y="${ph + 36}" font-size="10" text-anchor="end">${max.toFixed(3)}</text><rect x="10" y="${ph + 44}" width="10" height="8" fill="#d62728"/><text x="24" y="${ph + 52}" font-size="10">training</text><rect x="90" y="${ph + 44}" width="10" height="8" fill="#1f77b4"/><text x="104" y="${ph + 52}" font-size="10">holdout</text></svg></figure>`;
}

function infoCell(m: MethodReport): string {
  const i = m.info;
  const parts: string[] = [];
  if (typeof i['epsilon'] === 'number') parts.push(`ε = ${num(i['epsilon'] as number, 2)}`);
  if (typeof i['delta'] === 'number' && i['exact'] !== true) parts.push(`δ = ${(i['delta'] as number).toExponential(0)}`);
  if (typeof i['rho'] === 'number' && (i['rho'] as number) > 0) parts.push(`ρ = ${(i['rho'] as number).toPrecision(3)}`);
  if (i['exact'] === true) parts.push('no noise');
  return esc(parts.join(', '));
}

export function renderHtml(r: SynthReport): string {
  const ms = r.methods;
  const rows = ms.map((m) => `<tr><td>${esc(m.label)}</td><td>${infoCell(m)}</td><td>${m.rows}</td><td>${num(m.fidelity.pairTvdMean)}</td><td>${num(m.fidelity.meanColumnTvd)}</td><td>${num(m.fidelity.meanKs)}</td><td>${num(m.fidelity.columnShapes)}</td><td>${num(m.fidelity.correlation.meanAbsDiff)}</td>` +
    `<td>${num(m.utility?.tstrAuc)}</td><td>${num(m.utility?.trtrAuc)}</td><td>${num(m.privacy.dcrTrainMedian)} / ${num(m.privacy.dcrHoldoutMedian)}</td><td>${num(m.privacy.closerToTrainShare, 2)}</td><td>${num(m.privacy.nndrMedian)}</td><td>${num(m.privacy.membershipInferenceAuc)}</td></tr>`).join('\n');
  const colNames = ms[0]?.fidelity.columns.map((c) => c.name) ?? [];
  const numNames = ms[0]?.fidelity.columns.filter((c) => c.numeric).map((c) => c.name) ?? [];
  const figures = [
    groupedBars('Per-column total-variation distance (lower is better)', colNames, ms.map((m) => m.fidelity.columns.map((c) => c.tvd)), ms),
    numNames.length ? groupedBars('Per-column Kolmogorov–Smirnov statistic (numeric columns)', numNames, ms.map((m) => m.fidelity.columns.filter((c) => c.numeric).map((c) => c.ks)), ms) : '',
    r.numericColumns.length > 1 ? heatmap('Correlation (real data)', r.numericColumns, r.realCorrelation, 1) : '',
    ...(r.numericColumns.length > 1 ? ms.map((m) => heatmap(`Correlation difference: ${m.label} − real`, r.numericColumns, m.fidelity.correlation.matrix, 0.5)) : []),
    ...ms.map(dcrHistogram),
  ].join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>blindsum synthetic data report: ${esc(r.schema)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}th{background:#f4f4f4}figure{display:inline-block;margin:1em 1em 1em 0;vertical-align:top}p.note{font-size:13px;color:#555;max-width:900px}</style></head>
<body><h1>Synthetic data report: ${esc(r.schema)}</h1>
<p>Real training data: ${r.trainRows} rows; real holdout (never seen by any synthesizer): ${r.holdoutRows} rows${r.outcome ? `; outcome for the classifier: ${esc(r.outcome.column)} = ${esc(r.outcome.positive)}${r.outcome.exclude?.length ? ` (features exclude ${esc(r.outcome.exclude.join(', '))})` : ''}` : ''}. Generated ${esc(r.createdAt)}.</p>
<table><thead><tr><th>synthetic data</th><th>privacy</th><th>rows</th><th>2-way TVD</th><th>column TVD</th><th>KS</th><th>column shapes</th><th>|Δ corr|</th><th>TSTR AUC</th><th>TRTR AUC</th><th>median DCR train / holdout</th><th>closer to train</th><th>median NNDR</th><th>MIA AUC</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<p class="note">Fidelity: total-variation distance (TVD) of one-way and all two-way marginals on evaluation bins (categories; deciles of the real numbers; missing as a level), mean over columns and over pairs; Kolmogorov–Smirnov statistic (KS) of numeric columns; column shapes = mean of 1 − KS (numeric) and 1 − TVD (categorical), as SDMetrics; |Δ corr| = mean absolute difference of Pearson correlations between numeric columns.
Utility: logistic regression trained on the synthetic data (TSTR) or on the real training data (TRTR), AUC on the real holdout.
Privacy: distance to closest record (DCR, Gower distance) of synthetic records to the training data and to the holdout; "closer to train" = share of synthetic records nearer to a holdout-sized training sample than to the holdout (≈ 0.5 without memorization); NNDR = nearest / second-nearest training distance; MIA AUC = distance-based membership inference (0.5 = no signal).</p>
${figures}
</body></html>
`;
}
