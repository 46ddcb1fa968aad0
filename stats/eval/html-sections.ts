/**
 * The sections of the HTML report (html.ts assembles them). Tables put one synthetic dataset per
 * column so the page stays within 1280 px whatever the number of data columns.
 */
import type { MethodReport, SynthReport } from './report.ts';
import { COLORS, esc, groupedBars, heatmap, REAL_COLOR, twoHistograms } from './svg.ts';
import { CRITERIA, type Criterion, type Grade } from './verdict.ts';

function num(x: number | null | undefined, digits = 3): string {
  return x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(digits);
}

const pct = (x: number | null | undefined, digits = 1): string => (x === null || x === undefined || Number.isNaN(x) ? '—' : `${(100 * x).toFixed(digits)} %`);

function badge(g: Grade): string {
  return g === 'n/a' ? '<span class="grade na">n/a</span>' : `<span class="grade ${g}">${g.toUpperCase()}</span>`;
}

function head(r: SynthReport, first: string[]): string {
  return `<thead><tr>${first.map((f) => `<th>${esc(f)}</th>`).join('')}${r.methods.map((m, i) => `<th><span style="color:${COLORS[i % COLORS.length]}">■</span> ${esc(m.label)}</th>`).join('')}</tr></thead>`;
}

/** Value with its spread over repeated fits when there is one. */
function withSd(m: MethodReport, key: string, value: number | null | undefined, digits = 3): string {
  const s = m.repeats?.metrics[key];
  return s ? `${num(s.mean, digits)} ± ${num(s.sd, digits)}` : num(value, digits);
}

export function verdictTable(r: SynthReport): string {
  const overall = `<tr><th>overall</th><th></th><th></th>${r.methods.map((m) => `<th>${badge(m.verdict.overall)}${m.repeats ? ` <small>(mean of ${m.repeats.fits} fits)</small>` : ''}</th>`).join('')}</tr>`;
  const rows = (Object.keys(CRITERIA) as Criterion[]).map((c) => {
    const t = r.thresholds[c];
    const cmp = CRITERIA[c].better === 'higher' ? ['≥', '<'] : ['≤', '>'];
    return `<tr><td>${esc(CRITERIA[c].label)}</td><td class="lit">${esc(CRITERIA[c].literature)}</td><td>pass ${cmp[0]} ${t.pass}; fail ${cmp[1]} ${t.fail}</td>` +
      r.methods.map((m) => {
        const l = m.verdict.lines.find((x) => x.criterion === c)!;
        return `<td>${num(l.value, 3)}${l.sd !== null ? ` ± ${num(l.sd, 3)}` : ''} ${badge(l.grade)}</td>`;
      }).join('') + '</tr>';
  }).join('\n');
  return `<p class="verdict">${r.methods.map((m) => `${esc(m.label)}: ${badge(m.verdict.overall)}`).join(' &nbsp; ')}</p>
<table class="verdict-table">${head(r, ['criterion', 'SDMetrics / synthcity name', 'thresholds'])}<tbody>${overall}
${rows}</tbody></table>
<p class="note">Each criterion passes, needs review or fails against the thresholds above (defaults in docs/synth.md; a steward sets others with <code>--thresholds FILE.json</code>). The overall verdict is the worst criterion that applies; "n/a" (no outcome column, no constraints in the schema) is not counted. A verdict summarizes these measurements on this holdout; it is not a proof of privacy — the differential-privacy guarantee is the budget below.</p>`;
}

export function summaryTable(r: SynthReport): string {
  type Row = [string, string, (m: MethodReport) => string];
  const rows: Row[] = [
    ['synthetic rows', '', (m) => String(m.rows)],
    ['column shapes (mean quality)', 'SDMetrics Column Shapes (KSComplement, TVComplement)', (m) => withSd(m, 'columnShapes', m.fidelity.columnShapes)],
    ['column TVD (mean)', 'TVComplement = 1 − TVD', (m) => withSd(m, 'meanColumnTvd', m.fidelity.meanColumnTvd)],
    ['KS (mean, numeric)', 'KSComplement = 1 − KS', (m) => withSd(m, 'meanKs', m.fidelity.meanKs)],
    ['pair trends (mean score)', 'SDMetrics Column Pair Trends', (m) => withSd(m, 'pairTrends', m.fidelity.pairTrends)],
    ['2-way TVD (mean over pairs)', 'ContingencySimilarity = 1 − TVD', (m) => withSd(m, 'pairTvdMean', m.fidelity.pairTvdMean)],
    ['3-way TVD (mean over column triples)', 'no SDMetrics / synthcity metric: 1 − ContingencySimilarity of three columns; AIM\'s 3-way workload error', (m) => withSd(m, 'tripleTvdMean', m.fidelity.tripleTvdMean)],
    ['|Δ corr| (mean, numeric pairs)', 'CorrelationSimilarity = 1 − |Δ|/2', (m) => withSd(m, 'corrMeanAbsDiff', m.fidelity.correlation.meanAbsDiff)],
    ['TSTR AUC [95 % CI]', 'synthcity performance (TSTR); SDMetrics ML efficacy', (m) => (m.utility ? `${withSd(m, 'tstrAuc', m.utility.tstrAuc)} [${num(m.utility.tstrCi[0])}, ${num(m.utility.tstrCi[1])}]` : '—')],
    ['TRTR AUC [95 % CI]', 'train on real, test on real', (m) => (m.utility ? `${num(m.utility.trtrAuc)} [${num(m.utility.trtrCi[0])}, ${num(m.utility.trtrCi[1])}]` : '—')],
    ['TRTR − TSTR [95 % CI]', '', (m) => (m.utility ? `${num(m.utility.aucGap)} [${num(m.utility.gapCi[0])}, ${num(m.utility.gapCi[1])}]` : '—')],
    ['median DCR: training sample / holdout', 'synthcity DCR; SDMetrics DCRBaselineProtection', (m) => `${num(m.privacy.dcrTrainMedian)} / ${num(m.privacy.dcrHoldoutMedian)}`],
    ['closer to training sample than holdout', 'SDMetrics DCROverfittingProtection = min(1, 2(1 − share))', (m) => withSd(m, 'dcrCloserToTrain', m.privacy.closerToTrainShare, 2)],
    ['median NNDR: training sample / holdout', 'synthcity NNDR', (m) => `${withSd(m, 'nndrMedian', m.privacy.nndrMedian)} / ${num(m.privacy.nndrHoldoutMedian)}`],
    ['exact copies: training / holdout-sized training sample / holdout (chance)', 'SDMetrics NewRowSynthesis = 1 − copies', (m) => `${pct(m.privacy.exactCopies, 2)} / ${pct(m.privacy.exactCopiesTrainSample, 2)} / ${pct(m.privacy.exactCopiesHoldout, 2)}`],
    ['membership-inference AUC', 'synthcity DomiasMIA (distance baseline)', (m) => withSd(m, 'membershipInferenceAuc', m.privacy.membershipInferenceAuc)],
  ];
  const reps = r.methods.some((m) => m.repeats) ? '<p class="note">Where a dataset has several fits, a value is mean ± sd over the fits (sample sd); the plots and intervals are of the first fit.</p>' : '';
  return `<table>${head(r, ['metric (ours)', 'SDMetrics / synthcity name'])}<tbody>
${rows.map(([a, b, f]) => `<tr><td>${esc(a)}</td><td class="lit">${esc(b)}</td>${r.methods.map((m) => `<td>${f(m)}</td>`).join('')}</tr>`).join('\n')}
</tbody></table>${reps}
<p class="note">Distances (DCR, NNDR) use the Gower distance to a seeded training sample of the holdout's size (${r.holdoutRows} rows), so the training and holdout sides have the same number of candidates; earlier versions compared against all ${r.trainRows} training rows, which makes any synthesizer look closer to its training data. TSTR / TRTR: L2-regularized logistic regression, AUC on the holdout, 95 % percentile bootstrap over the holdout rows.</p>`;
}

function structureOf(m: MethodReport): string {
  const i = m.info;
  const parts: string[] = [];
  if (typeof i['method'] === 'string') parts.push(`method ${esc(i['method'])}`);
  if (i['exact'] === true) parts.push('exact measurements: <b>not differentially private</b>');
  else if (typeof i['rho'] === 'number') {
    parts.push(`total budget ρ = ${(i['rho'] as number).toPrecision(4)}${typeof i['epsilon'] === 'number' ? ` (ε = ${(i['epsilon'] as number).toPrecision(3)} at δ = ${typeof i['delta'] === 'number' ? (i['delta'] as number).toExponential(0) : '?'})` : ''}`);
  }
  if (Array.isArray(i['queries'])) parts.push(`${(i['queries'] as unknown[]).length} charged federated queries`);
  const s = i['structure'] as { cliques?: string[][]; parents?: [string, string[]][] } | undefined;
  let detail = '';
  if (s?.cliques) detail += `<p class="note">Cliques (${s.cliques.length}): ${s.cliques.map((c) => `{${esc(c.join(', '))}}`).join(' ')}</p>`;
  if (s?.parents) detail += `<p class="note">Parents: ${s.parents.filter(([, p]) => p.length).map(([c, p]) => `${esc(c)} ← ${esc(p.join(', '))}`).join('; ') || 'none (independent columns)'}</p>`;
  return `<h3>${esc(m.label)}</h3><p>${parts.join('; ') || 'no model file given (give --model NAME=model.json for its budget and structure)'}</p>${detail}`;
}

export function modelSection(r: SynthReport): string {
  return r.methods.map(structureOf).join('\n');
}

export function columnsSection(r: SynthReport): string {
  const table = `<table>${head(r, ['column', 'type'])}<tbody>${r.columns.map((c, i) => `<tr><td>${esc(c.name)}</td><td>${c.numeric ? 'numeric (KSComplement)' : 'categorical (TVComplement)'}</td>${r.methods.map((m) => `<td>${num(m.fidelity.columns[i]!.quality)}</td>`).join('')}</tr>`).join('\n')}</tbody></table>`;
  const figs = r.columns.map((c, i) => groupedBars(`${c.name}: real vs synthetic (${c.numeric ? 'histogram, share of rows per bin' : 'share of rows per category'}); quality ${r.methods.map((m) => num(m.fidelity.columns[i]!.quality, 2)).join(' / ')}`,
    c.plotLabels, [{ label: 'real (training)', colour: REAL_COLOR, values: c.real }, ...r.methods.map((m, k) => ({ label: m.label, colour: COLORS[k % COLORS.length]!, values: m.fidelity.columns[i]!.plot }))], { maxWidth: 580 }));
  return `${table}<p class="note">Quality per column: 1 − KS statistic for numeric columns (present values), 1 − TVD on the column's levels (with "(missing)") for categorical ones; 1 = identical distributions.</p><div class="cols">${figs.join('\n')}</div>`;
}

export function pairsSection(r: SynthReport): string {
  const names = r.columns.map((c) => c.name);
  const idx = new Map(names.map((n, i) => [n, i]));
  const figs = [heatmap('Association in the real data (Pearson r for two numeric columns, Cramér\'s V for two categorical, correlation ratio η for mixed)', names, r.realAssociation, 1, 'association')];
  for (const m of r.methods) {
    const diff = names.map((_, i) => names.map((__, j) => (i === j ? 0 : null as number | null)));
    for (const p of m.fidelity.pairs) {
      const v = p.real === null || p.synthetic === null ? null : p.synthetic - p.real;
      diff[idx.get(p.a)!]![idx.get(p.b)!] = diff[idx.get(p.b)!]![idx.get(p.a)!] = v;
    }
    figs.push(heatmap(`Association difference, synthetic − real: ${m.label}`, names, diff, 0.5, 'synthetic − real'));
  }
  const worst = r.methods.map((m) => `<tr><td>${esc(m.label)}</td><td style="text-align:left">${[...m.fidelity.pairs].sort((a, b) => a.score - b.score).slice(0, 5).map((p) => `${esc(p.a)} × ${esc(p.b)} (${p.kind}: real ${num(p.real, 2)}, synthetic ${num(p.synthetic, 2)}; score ${num(p.score, 2)})`).join('<br>')}</td></tr>`).join('');
  return `${figs.join('\n')}<p class="note">Pair score (SDMetrics Column Pair Trends): CorrelationSimilarity = 1 − |r<sub>synthetic</sub> − r<sub>real</sub>|/2 for two numeric columns; ContingencySimilarity = 1 − TVD of the pair's joint distribution on the evaluation bins (categories; deciles of the real numbers; missing as a level) for every other pair.</p>
<table><thead><tr><th>synthetic data</th><th style="text-align:left">five pairs with the lowest score</th></tr></thead><tbody>${worst}</tbody></table>`;
}

export function checksSection(r: SynthReport): string {
  const rows = r.columns.map((c, i) => {
    const first = r.methods[0]?.checks.columns[i];
    const real = c.numeric ? `range [${num(first?.realMin, 4)}, ${num(first?.realMax, 4)}]` : `${c.plotLabels.length - 1} levels`;
    const cells = r.methods.map((m) => {
      const k = m.checks.columns[i]!;
      const missing = `missing ${pct(k.missingSynthetic)}`;
      if (k.numeric) return `<td>in range ${pct(k.adherence, 2)}${k.belowRealMin || k.aboveRealMax ? ` (below ${pct(k.belowRealMin, 2)}, above ${pct(k.aboveRealMax, 2)})` : ''}${k.outsideSchema ? `; outside schema ${pct(k.outsideSchema, 2)}` : ''}<br>${missing}</td>`;
      return `<td>real levels ${pct(k.adherence, 2)}, coverage ${pct(k.coverage, 0)}${k.unseenLevels?.length ? `<br>unseen: ${esc(k.unseenLevels.join(', '))}` : ''}<br>${missing}</td>`;
    }).join('');
    return `<tr><td>${esc(c.name)}</td><td>${real}<br>missing ${pct(first?.missingReal)}</td>${cells}</tr>`;
  }).join('\n');
  const cons = r.methods[0]?.checks.constraints ?? [];
  const consTable = cons.length === 0
    ? '<p class="note">The schema declares no constraints between columns (a schema may list <code>"constraints": [{ "type": "le", "left": "a", "right": "b" }]</code>; each is then counted here).</p>'
    : `<table>${head(r, ['constraint', 'real rows violating; ties'])}<tbody>${cons.map((c, k) => `<tr><td>${esc(`${c.left} ${c.type === 'le' ? '≤' : c.type} ${c.right}`)}${c.event ? `<br>${esc(`${c.left} < ${c.right} exactly when ${c.event.column} = ${c.event.value}`)}` : ''}</td><td>${c.realViolations ?? '—'}${c.realTieShare === null ? '' : `; ties ${pct(c.realTieShare, 1)}`}${c.realEventMismatches === null ? '' : `; indicator disagrees in ${c.realEventMismatches}`}</td>${r.methods.map((m) => {
      const x = m.checks.constraints[k]!;
      return `<td>${x.syntheticViolations === null ? esc(x.note ?? 'not checked') : `${x.syntheticViolations} rows${x.syntheticEventMismatches === null ? '' : `, indicator disagrees in ${x.syntheticEventMismatches}`} (${pct(x.syntheticShare, 2)}); ties ${pct(x.syntheticTieShare, 1)}`}</td>`;
    }).join('')}</tr>`).join('')}</tbody></table><p class="note">Ties: share of the rows with both sides present where left = right (e.g. a relapse time censored at the follow-up time). A constraint declared with <code>"ties": true</code> makes the synthesizer keep them; one declared with an <code>"event"</code> indicator makes the times agree with it in every row (left &lt; right for the event, left = right otherwise), and its disagreements count as violations (docs/synth.md).</p>`;
  const rejected = r.methods.some((m) => m.rejectedRows !== null)
    ? `<tr><td>rows refused when loading</td><td>invalid, or outside the schema bounds</td>${r.methods.map((m) => `<td>${m.rejectedRows ?? '—'}</td>`).join('')}</tr>` : '';
  return `<table>${head(r, ['column', 'real data'])}<tbody>${rows}${rejected}</tbody></table>
<p class="note">Numbers: share of present synthetic values inside the real data's observed range (SDMetrics BoundaryAdherence); values outside the schema bounds are refused or clipped when the CSV is loaded. Categories: share of synthetic values in a level the real data has (CategoryAdherence) and share of the real levels the synthetic data produces (CategoryCoverage). Missing: share of rows missing the column (MissingValueSimilarity compares the two).</p>
<h3>Constraints</h3>${consTable}`;
}

export function privacySection(r: SynthReport): string {
  return `<p class="note">Exact copies: synthetic rows equal on every data column to a training row. The chance baseline is the share equal to a holdout row; the comparable training figure uses a training sample of the holdout's size (${r.holdoutRows} rows), so "copies beyond chance" = training sample − holdout. Membership inference: real records scored by −(distance to the closest synthetic record), AUC of training members against holdout non-members (0.5 = no signal).</p>
<div class="cols">${r.methods.map((m) => twoHistograms(`${m.label}: distance to closest record (DCR)`, m.privacy.dcrTrain, m.privacy.dcrHoldout, [`training sample (${m.privacy.comparedRows} rows)`, `holdout (${r.holdoutRows} rows)`])).join('\n')}</div>`;
}
