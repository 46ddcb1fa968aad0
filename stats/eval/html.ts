/**
 * The evaluation report as one self-contained HTML page: inline CSS and inline SVG (svg.ts), no
 * scripts and no external resources (it can be mailed or archived as is). Sections: the verdict
 * per criterion against the thresholds, the summary metrics beside their SDMetrics / synthcity
 * names, the model and its budget, per-column quality and real-vs-synthetic plots, pair trends
 * (heat maps with colour scales), validity checks, privacy and utility (html-sections.ts).
 */
import { checksSection, columnsSection, modelSection, pairsSection, privacySection, summaryTable, verdictTable } from './html-sections.ts';
import type { SynthReport } from './report.ts';
import { esc } from './svg.ts';

const CSS = `body{font-family:system-ui,sans-serif;margin:16px auto;max-width:1200px;padding:0 16px;color:#222;line-height:1.35}
h1{font-size:24px}h2{font-size:19px;margin-top:1.6em;border-bottom:1px solid #ddd}h3{font-size:15px}
table{border-collapse:collapse;font-size:12.5px;margin:.5em 0;max-width:100%}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right;vertical-align:top;overflow-wrap:anywhere}
td:first-child,th:first-child{text-align:left}th{background:#f4f4f4}td.lit{text-align:left;color:#555;font-size:11.5px}
figure{display:inline-block;margin:.8em 1em .8em 0;vertical-align:top;max-width:100%}figure svg{max-width:100%;height:auto;display:block}
figcaption.chart-title{font-weight:600;font-size:13px;max-width:100%;white-space:normal;overflow-wrap:anywhere;margin-bottom:4px}
p.note,p.fig-note{font-size:12.5px;color:#555;max-width:1000px}.fig-note{margin:2px 0}
.grade{font-weight:700;padding:1px 6px;border-radius:3px;white-space:nowrap}.pass{background:#d8f0d8;color:#145214}.review{background:#fff0c2;color:#6b4e00}.fail{background:#f8d0d0;color:#7a1010}.na{color:#888}
.verdict{font-size:16px;margin:.4em 0}.cols{display:flex;flex-wrap:wrap;gap:0 12px}`;

export function renderHtml(r: SynthReport): string {
  const o = r.outcome;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>blindsum synthetic data report: ${esc(r.schema)}</title>
<style>${CSS}</style></head>
<body><h1>Synthetic data report: ${esc(r.schema)}</h1>
<p>Real training data: ${r.trainRows} rows; real holdout (never seen by any synthesizer): ${r.holdoutRows} rows${o ? `; outcome for the classifier: ${esc(o.column)} = ${esc(o.positive)}${o.exclude?.length ? ` (features exclude ${esc(o.exclude.join(', '))})` : ''}` : ''}. Generated ${esc(r.createdAt)}.${r.where ? ` ${esc(r.where)}` : ''}</p>
<h2 id="verdict">Verdict</h2>
${verdictTable(r)}
<h2 id="summary">Summary metrics</h2>
${summaryTable(r)}
<h2 id="model">Models and privacy budget</h2>
${modelSection(r)}
<h2 id="columns">Columns: quality and real vs synthetic</h2>
${columnsSection(r)}
<h2 id="pairs">Pair trends</h2>
${pairsSection(r)}
<h2 id="checks">Range, category, missing-value and constraint checks</h2>
${checksSection(r)}
<h2 id="privacy">Privacy: copies, distances, membership inference</h2>
${privacySection(r)}
</body></html>
`;
}
