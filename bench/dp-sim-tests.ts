/**
 * Chance failures of the tests that release DP results: each case is one test's DP query (its
 * data, rho, federation of 3 parties with t = 2, c = 0) and the test's own assertions on the
 * released result, simulated over many releases with bench/dp-sim.ts. Prints, per case, how often
 * post-processing threw and how often the assertions failed.
 *
 *   ./node_modules/.bin/node bench/dp-sim-tests.ts [--draws 20000] [--only web-km,readme-mean]
 */
import { parseArgs } from 'node:util';
import { centralResult, noiseUncertainty, noiseVerdict, privacyRho, type KaplanMeierResult, type Query, type QueryResult } from '../stats/index.ts';
import { formatOutcome, loadData, simulateReleases, type Release } from './dp-sim.ts';

interface Case { name: string; test: string; data: 'pbc' | 'flchain'; query: Query; rho: number; draws?: number; check?: (r: Release, q: Query) => string }

const pbc = loadData('pbc');
const finite = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

function verdictOf(r: Release, q: Query): ReturnType<typeof noiseVerdict> {
  const u = r.result ? noiseUncertainty(q, pbc.schema, r.plan, r.np, r.sums, 3) : {};
  return noiseVerdict(q, pbc.schema, r.plan, r.np, r.sums, 3, r.result, u);
}

const kmE2e: Query = { kind: 'kaplan_meier', columns: [], filter: [], time: 'time', event: 'status', positive: ['2'], bins: [...Array.from({ length: 51 }, (_, i) => i * 100), 10000], times: [2000] };
const kmExact = (centralResult(kmE2e, pbc.schema, pbc.dataset) as KaplanMeierResult).curves[0]!;
const meanAge: Query = { kind: 'mean', columns: ['age'], filter: [] };
const meanAgeExact = (centralResult(meanAge, pbc.schema, pbc.dataset) as QueryResult & { mean: number }).mean;

const CASES: Case[] = [
  {
    name: 'web-km', test: 'web-console-browser "Kaplan–Meier curves…": KM by sex at the page default rho 0.1 gives 2 curves, each with its band',
    data: 'pbc', query: { kind: 'kaplan_meier', columns: [], filter: [], time: 'time', event: 'status', positive: ['2'], strata: 'sex' }, rho: 0.1,
    check: ({ result }) => {
      if (!result) return 'post-processing failed';
      const r = result as KaplanMeierResult;
      if (r.curves.length !== 2) return `${r.curves.length} curves`;
      return r.curves.every((c) => c.lower && c.upper) ? '' : 'a curve without its band';
    },
  },
  {
    name: 'web-regression', test: 'web-console-browser "…regression coefficients with intervals": albumin ~ age + sex at rho 1 gives 2 points with 2 intervals',
    data: 'pbc', query: { kind: 'linear_regression', columns: ['age', 'sex'], target: 'albumin', filter: [] }, rho: 1,
    check: ({ result }) => {
      if (!result) return 'post-processing failed';
      const r = result as QueryResult & { coefficients: number[]; standardErrors: (number | null)[] };
      for (const j of [1, 2]) if (!finite(r.coefficients[j]) || !finite(r.standardErrors[j])) return `term ${j}: coefficient ${r.coefficients[j]}, SE ${r.standardErrors[j]}`;
      return '';
    },
  },
  {
    name: 'e2e-dp-km', test: 'e2e-dp "a DP Kaplan–Meier query…" at rho 0.5: SE > 0, |log S − log S_exact| < 8 SE at 1000/2000/3000, monotone, lower ≤ S',
    data: 'pbc', query: kmE2e, rho: 0.5,
    check: ({ result }) => {
      if (!result) return 'post-processing failed';
      const k = (result as KaplanMeierResult).curves[0]!;
      if (!k.noiseStdErr) return 'no noiseStdErr';
      for (const t of [1000, 2000, 3000]) {
        const i = k.time.indexOf(t);
        const e = kmExact.surv[kmExact.time.findLastIndex((x) => x <= t)]!;
        if (!(k.noiseStdErr[i]! > 0)) return `SE ${k.noiseStdErr[i]} at ${t}`;
        if (!(Math.abs(Math.log(k.surv[i]!) - Math.log(e)) < 8 * k.noiseStdErr[i]!)) return `S(${t}) = ${k.surv[i]} vs ${e}, SE ${k.noiseStdErr[i]}`;
      }
      for (let i = 0; i < k.surv.length; i++) {
        if (!(k.surv[i]! <= (i === 0 ? 1 : k.surv[i - 1]!))) return `not monotone at ${i}`;
        if (!((k.lower[i] ?? 0) <= k.surv[i]!)) return `lower above S at ${i}`;
      }
      return '';
    },
  },
  {
    name: 'e2e-ckks-mean', test: 'e2e-ckks "a differentially private query through CKKS…": mean age at rho 0.25 within 8 sd, verdict ok on "mean of age"',
    data: 'pbc', query: meanAge, rho: 0.25, draws: 5000,
    check: (r, q) => {
      if (!r.result) return 'post-processing failed';
      const u = noiseUncertainty(q, pbc.schema, r.plan, r.np, r.sums, 3);
      const sd = u['mean']!;
      const got = (r.result as QueryResult & { mean: number }).mean;
      if (!(sd > 0) || !(Math.abs(got - meanAgeExact) < 8 * sd)) return `mean ${got}, sd ${sd}`;
      const v = noiseVerdict(q, pbc.schema, r.plan, r.np, r.sums, 3, r.result, u)!;
      return v.status === 'ok' && v.quantity === 'mean of age' ? '' : `verdict ${v.status} on ${v.quantity}`;
    },
  },
  {
    name: 'verdict-variance', test: 'e2e-noise-verdict "a small-rho variance…" at rho 5e-4 (1e-3 before: rhoNeeded ≤ 10 rho in ≈ 5e-5 of releases): noise_dominates on the variance of age, rhoNeeded within 0.5–2 of the power law and > 10 rho; recomputed (fresh bootstrap) on the same quantity',
    data: 'pbc', query: { kind: 'variance', columns: ['age'], filter: [] }, rho: 5e-4, draws: 5000,
    check: (r, q) => {
      const v = verdictOf(r, q)!;
      if (v.status !== 'noise_dominates' || v.quantity !== 'variance of age') return `${v.status} on ${v.quantity}`;
      if (!(v.noiseSd > v.targetSd)) return 'noiseSd ≤ targetSd';
      const powerLaw = v.rho * (v.noiseSd / v.targetSd) ** 2;
      if (!(v.rhoNeeded! / powerLaw > 0.5 && v.rhoNeeded! / powerLaw < 2)) return `rhoNeeded/powerLaw ${v.rhoNeeded! / powerLaw}`;
      if (!(v.rhoNeeded! > 10 * v.rho)) return `rhoNeeded ${v.rhoNeeded}`;
      const again = verdictOf(r, q)!;
      return again.status === 'noise_dominates' && again.quantity === v.quantity ? '' : `recomputed: ${again.status} on ${again.quantity}`;
    },
  },
  {
    name: 'verdict-regression', test: 'e2e-noise-verdict "a small-rho linear regression…" at rho 1e-3: noise_dominates, rhoNeeded > 1e-3',
    data: 'pbc', query: { kind: 'linear_regression', columns: ['age', 'albumin'], target: 'bili', filter: [] }, rho: 1e-3, draws: 5000,
    check: (r, q) => {
      const v = verdictOf(r, q)!;
      return v.status === 'noise_dominates' && v.rhoNeeded! > 1e-3 ? '' : `${v.status}, rhoNeeded ${v.rhoNeeded}`;
    },
  },
  {
    name: 'verdict-cli-large', test: 'e2e-noise-verdict "blindsum query exits 3 … and 0 for a large rho": variance of age at rho 8 is ok, noiseSd ≤ targetSd, rhoNeeded < 8',
    data: 'pbc', query: { kind: 'variance', columns: ['age'], filter: [] }, rho: 8, draws: 5000,
    check: (r, q) => {
      const v = verdictOf(r, q)!;
      return v.status === 'ok' && v.noiseSd <= v.targetSd && v.rhoNeeded! < 8 ? '' : `${v.status}, rhoNeeded ${v.rhoNeeded}`;
    },
  },
  {
    name: 'readme-mean', test: 'e2e-readme-deployment steps 6–8: mean age where sex = f at epsilon 1, delta 1e-6 exits 0 (no noise_dominates verdict)',
    data: 'pbc', query: { kind: 'mean', columns: ['age'], filter: [{ column: 'sex', op: 'eq', values: ['f'] }] }, rho: privacyRho({ epsilon: 1, delta: 1e-6 }), draws: 5000,
    check: (r, q) => {
      const v = verdictOf(r, q)!;
      return v.status !== 'noise_dominates' ? '' : `noise_dominates on ${v.quantity}`;
    },
  },
  {
    name: 'readme-km', test: 'e2e-readme-deployment steps 6–8: KM by sex, bins 0..10000, rho 0.2 post-processes',
    data: 'pbc', query: { kind: 'kaplan_meier', columns: [], filter: [], time: 'time', event: 'status', positive: ['2'], strata: 'sex', bins: [0, 1000, 2000, 3000, 4000, 10000] }, rho: 0.2,
  },
  { name: 'ops-logs-mean', test: 'ops-logs: mean age at rho 0.5 is done', data: 'pbc', query: meanAge, rho: 0.5 },
  { name: 'frequency-stage', test: 'web-auditor-browser, e2e-transcript-tamper: frequency of stage at rho 0.5 is done', data: 'pbc', query: { kind: 'frequency', columns: ['stage'], filter: [] }, rho: 0.5 },
  {
    name: 'regression-factor-verdict', test: 'stats-regression-factor "under DP the noise verdict judges each indicator\'s slope": age + stage + sex → albumin (CASES[0]) at rho 0.5',
    data: 'pbc', query: { kind: 'linear_regression', columns: ['age', 'stage', 'sex'], target: 'albumin', filter: [] }, rho: 0.5, draws: 5000,
    check: (r, q) => {
      const v = verdictOf(r, q)!;
      return ['ok', 'noise_dominates'].includes(v.status) && /(slope of (age|stage[234]|sexm))|variance of/.test(v.quantity) ? '' : `${v.status} on ${v.quantity}`;
    },
  },
];

const { values } = parseArgs({ options: { draws: { type: 'string', default: '20000' }, only: { type: 'string' } } });
const only = values.only ? new Set(values.only.split(',')) : undefined;
for (const c of CASES) {
  if (only && !only.has(c.name)) continue;
  const draws = Math.min(Number(values.draws), c.draws ?? Infinity);
  const data = c.data === 'pbc' ? pbc : loadData(c.data);
  const o = simulateReleases(c.query, data.schema, data.dataset, { rho: c.rho, draws }, c.check && ((r) => c.check!(r, c.query)));
  console.log(`${formatOutcome(c.name, o)}\n  (${c.test})`);
}
