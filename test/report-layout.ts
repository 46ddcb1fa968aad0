/**
 * For the browser test of the report: a report of real fits on pbc (pbcReportHtml), and the
 * layout checks run INSIDE the browser (checkReportLayout is self-contained: it is passed to
 * page.evaluate, so it may use nothing from outside its body), returning what it measured and a
 * list of problems (empty when the page is fine).
 */
import { modelInfo } from '../cli/commands/synth-files.ts';
import { rhoFromEpsilonDelta } from '../crypto/dp/accountant.ts';
import { seededRandomSource } from '../crypto/dp/random.ts';
import { buildDataset } from '../stats/index.ts';
import { holdoutSplit } from '../stats/eval/holdout.ts';
import { renderHtml } from '../stats/eval/html.ts';
import { evaluate } from '../stats/eval/report.ts';
import { centralMeasure } from '../stats/synth/marginals.ts';
import { fitSynthesizer, type SynthModel } from '../stats/synth/model.ts';
import { sampleCsv } from '../stats/synth/sample.ts';
import { loadExample } from './stats-helpers.ts';

/** The little of the DOM used here (the project compiles without the DOM library). */
interface Rect { left: number; right: number; top: number; bottom: number; width: number; height: number }
interface El {
  scrollWidth: number; clientWidth: number; textContent: string | null;
  getBoundingClientRect(): Rect; getAttribute(n: string): string | null;
  querySelector(s: string): El | null; querySelectorAll(s: string): ArrayLike<El>;
}
interface Dom {
  document: El & { documentElement: El; querySelector(s: string): El | null; querySelectorAll(s: string): ArrayLike<El> };
  window: { innerWidth: number; innerHeight: number };
  getComputedStyle(e: El): { visibility: string };
}

export interface LayoutResult {
  problems: string[];
  scrollWidth: number;
  innerWidth: number;
  titles: number;
  svgTexts: number;
  heatmaps: number;
  verdictTop: number;
}

export function checkReportLayout(): LayoutResult {
  const dom = globalThis as unknown as Dom;
  const { document, window } = dom;
  const problems: string[] = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth) problems.push(`horizontal scrolling: page is ${doc.scrollWidth} px wide in a ${window.innerWidth} px window`);
  const titles = Array.from(document.querySelectorAll('figcaption.chart-title, h1, h2, h3, th'));
  for (const t of titles) {
    if (t.scrollWidth > t.clientWidth + 1) problems.push(`title clipped (${t.scrollWidth} > ${t.clientWidth} px): ${(t.textContent ?? '').slice(0, 80)}`);
    const r = t.getBoundingClientRect();
    if (r.right > doc.clientWidth + 1) problems.push(`title runs past the page (${Math.round(r.right)} px): ${(t.textContent ?? '').slice(0, 80)}`);
  }
  let svgTexts = 0;
  for (const svg of Array.from(document.querySelectorAll('svg'))) {
    const box = svg.getBoundingClientRect();
    if (box.right > doc.clientWidth + 1) problems.push(`chart runs past the page: ${svg.getAttribute('aria-label')}`);
    for (const t of Array.from(svg.querySelectorAll('text'))) {
      svgTexts++;
      const r = t.getBoundingClientRect();
      if (r.width === 0) continue;
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1) {
        problems.push(`text cut at the edge of "${svg.getAttribute('aria-label')}": "${(t.textContent ?? '').slice(0, 40)}"`);
      }
    }
  }
  const heatmaps = Array.from(document.querySelectorAll('svg')).filter((s) => (s.getAttribute('aria-label') ?? '').startsWith('Association'));
  for (const h of heatmaps) {
    const scale = h.querySelector('g.colour-scale');
    const bar = scale?.querySelector('rect[fill^="url("]');
    const ticks = scale ? scale.querySelectorAll('text').length : 0;
    if (!scale || !bar || bar.getBoundingClientRect().height < 50 || ticks < 5) problems.push(`heat map without a colour scale: ${h.getAttribute('aria-label')}`);
  }
  const verdict = document.querySelector('p.verdict');
  const badges = verdict ? verdict.querySelectorAll('.grade').length : 0;
  const vr = verdict?.getBoundingClientRect();
  if (!verdict || !vr || vr.height === 0 || dom.getComputedStyle(verdict).visibility !== 'visible' || badges === 0) problems.push('no visible verdict');
  else if (vr.bottom > window.innerHeight) problems.push(`verdict below the first screen (at ${Math.round(vr.top)} px)`);
  return { problems, scrollWidth: doc.scrollWidth, innerWidth: window.innerWidth, titles: titles.length, svgTexts, heatmaps: heatmaps.length, verdictTop: vr ? vr.top : -1 };
}

/** The report of a DP 2-tree at ε = 1 fitted three times, the independent baseline and the noise-free fit, on pbc. */
export async function pbcReportHtml(): Promise<string> {
  const pbc = loadExample('pbc');
  const { train, holdout } = holdoutSplit(pbc.csv, 0.2, 'browser-test');
  const tr = buildDataset(pbc.schema, train).dataset;
  const ho = buildDataset(pbc.schema, holdout).dataset;
  const rho = rhoFromEpsilonDelta(1, 1e-6);
  const rows = 3 * tr.rowCount;
  const big = { ...pbc.schema, maxRowsPerParty: rows };
  const sample = (m: SynthModel, seed: string): ReturnType<typeof buildDataset>['dataset'] => buildDataset(big, sampleCsv(m, pbc.schema, rows, seed)).dataset;
  const noisy = (k: number): ReturnType<typeof centralMeasure> => centralMeasure(pbc.schema, tr, seededRandomSource(new Uint8Array(32).fill(k)));
  const dp = await Promise.all([1, 2, 3].map((k) => fitSynthesizer(pbc.schema, noisy(k), { rho, target: 'status' })));
  const independent = await fitSynthesizer(pbc.schema, noisy(4), { rho, method: 'independent' });
  const exact = await fitSynthesizer(pbc.schema, centralMeasure(pbc.schema, tr), { target: 'status' });
  const report = evaluate(pbc.schema, tr, ho, [
    { name: 'mst', label: `DP ${dp[0]!.parents.some((p) => p.length > 0) ? '2-tree (target status)' : 'one-way fallback (too few rows for pairs)'}, ε = 1, 3 fits`, data: sample(dp[0]!, 'a'), replicates: [sample(dp[1]!, 'b'), sample(dp[2]!, 'c')], info: modelInfo(dp[0]!) },
    { name: 'independent', label: 'independent marginals, ε = 1', data: sample(independent, 'd'), info: modelInfo(independent) },
    { name: 'exact', label: 'same synthesizer, no noise', data: sample(exact, 'e'), info: modelInfo(exact) },
  ], { outcome: { column: 'status', positive: '2' }, bootstrap: 200, where: 'Rendered by test/synth-report-browser.test.ts from central fits on pbc (a stand-in for a federated fit).' });
  return renderHtml(report);
}

