/**
 * Fast central simulation of bench/synth.ts for tuning the synthesizer: the same data split and
 * evaluation, with every measurement answered centrally (stats/synth/marginals.ts centralMeasure)
 * at ρ·t/k = ρ·2/3, the noise level of a 3-party federation at threshold 2 (variance × k/t).
 *
 *   ./node_modules/.bin/node bench/synth-sim.ts [--reps 3] [--eps 0.5,1,4] [--method mst,independent] [--fit-target] [--split a,b,c] [--levels L] [--parents 1|2]
 *     [--sampling round|iid] [--rows R (synthetic rows per training row, default 5)] [--exact-one-ways]
 *     (--preset pbc,flchain,rotterdam,mgus2 | --data FILE --schema FILE --target COL --positive VALUE [--exclude COL,…])
 *
 * `--target COL --positive VALUE` name the evaluation's outcome; `--fit-target` also fits with it
 * as the synthesizer's target. Without --preset or --data: the presets pbc and flchain.
 * `--exact-one-ways` (a diagnostic, not a synthesizer: it is not private) answers the range and
 * one-way steps without noise and the rest as usual, to bound what better one-way estimates could
 * gain.
 */
import { rhoFromEpsilonDelta } from '../crypto/dp/accountant.ts';
import { seededRandomSource } from '../crypto/dp/random.ts';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8 } from '../crypto/bytes.ts';
import { buildDataset } from '../stats/index.ts';
import { holdoutSplit } from '../stats/eval/holdout.ts';
import { evaluate, type SyntheticInput } from '../stats/eval/report.ts';
import { centralMeasure } from '../stats/synth/marginals.ts';
import { fitSynthesizer } from '../stats/synth/model.ts';
import { structureChecks } from '../stats/eval/structure.ts';
import { DATA_OPTIONS, parseBenchArgs, sampledDataset } from './synth-common.ts';

const OPTIONS = { reps: { type: 'string' }, eps: { type: 'string' }, method: { type: 'string' }, split: { type: 'string' }, levels: { type: 'string' }, parents: { type: 'string' }, 'fit-target': { type: 'boolean' }, sampling: { type: 'string' }, rows: { type: 'string' }, verbose: { type: 'boolean' }, 'exact-one-ways': { type: 'boolean' }, ...DATA_OPTIONS } as const;
const { values, datasets: DATASETS } = parseBenchArgs('bench/synth-sim.ts', OPTIONS);
const REPS = Number(values.reps ?? 3);
const EXACT_ONE_WAYS = values['exact-one-ways'] === true;
const SAMPLING = (values.sampling ?? 'round') as 'round' | 'iid';
const ROWS_PER_TRAIN = Number(values.rows ?? 5);
const TUNE = {
  ...(values.split ? { split: values.split.split(',').map(Number) as [number, number, number] } : {}),
  ...(values.levels ? { maxLevels: Number(values.levels) } : {}),
  ...(values.parents ? { maxParents: Number(values.parents) as 1 | 2 } : {}),
};
const EPSILONS = (values.eps ?? '0.5,1,4').split(',').map(Number);
const METHODS = (values.method ?? 'mst,independent').split(',') as ('mst' | 'aim' | 'independent')[];

for (const { name, schema, csv, outcome } of DATASETS) {
  const { train, holdout } = holdoutSplit(csv, 0.2, 'bench');
  const trainData = buildDataset(schema, train).dataset;
  const holdoutData = buildDataset(schema, holdout).dataset;
  const rows = Math.round(ROWS_PER_TRAIN * trainData.rowCount);
  const inputs: SyntheticInput[] = [];
  const log = values.verbose ? (m: string): void => void process.stderr.write(`    ${m}\n`) : undefined;
  for (const method of METHODS.filter((m) => m !== 'independent')) {
    const exact = await fitSynthesizer(schema, centralMeasure(schema, trainData), { method, ...TUNE, ...(values['fit-target'] ? { target: outcome.column } : {}), ...(log ? { log } : {}) });
    inputs.push({ name: `exact ${method}`, label: `exact ${method}`, data: sampledDataset(schema, exact, rows, 'sim-exact', SAMPLING) });
  }
  for (const eps of EPSILONS) {
    const rho = rhoFromEpsilonDelta(eps, 1e-6);
    for (const method of METHODS) {
      for (let rep = 0; rep < REPS; rep++) {
        const rng = seededRandomSource(sha256(utf8(`sim|${name}|${eps}|${method}|${rep}`)));
        const measure = centralMeasure(schema, trainData, rng);
        const m = await fitSynthesizer(schema, (q, r, p) => measure(q, r === undefined || (EXACT_ONE_WAYS && (p === 'range' || p === 'one-way')) ? undefined : (r * 2) / 3, p), { rho, method, ...TUNE, ...(values['fit-target'] ? { target: outcome.column } : {}), ...(log ? { log } : {}) });
        inputs.push({ name: `${method} ε=${eps} #${rep}`, label: `${method}|${eps}`, data: sampledDataset(schema, m, rows, `sim-${rep}`, SAMPLING) });
      }
    }
  }
  const report = evaluate(schema, trainData, holdoutData, inputs, { outcome, maxSyntheticForDcr: 200 });
  const groups = new Map<string, { tvd: number[]; tvd3: number[]; col: number[]; auc: number[]; viol: number[]; pm: number[]; miss: number[]; out: number[]; tie: number[] }>();
  report.methods.forEach((m, k) => {
    const g = groups.get(m.label) ?? { tvd: [], tvd3: [], col: [], auc: [], viol: [], pm: [], miss: [], out: [], tie: [] };
    g.tvd.push(m.fidelity.pairTvdMean);
    g.tvd3.push(m.fidelity.tripleTvdMean ?? NaN);
    g.col.push(m.fidelity.meanColumnTvd);
    g.auc.push(m.utility!.tstrAuc);
    const st = structureChecks(schema, trainData, inputs[k]!.data);
    g.viol.push(st.constraintViolations);
    g.pm.push(st.maxPointMassError);
    g.miss.push(st.maxMissingRateError);
    g.out.push(st.maxOutsideRange);
    g.tie.push(st.maxTieShareError);
    groups.set(m.label, g);
  });
  const mean = (xs: number[]): string => (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(3);
  console.log(`${name} (TRTR ${report.methods[0]!.utility!.trtrAuc.toFixed(3)})`);
  for (const [label, g] of groups) console.log(`  ${label.padEnd(18)} 2-way TVD ${mean(g.tvd)}  3-way TVD ${mean(g.tvd3)}  column TVD ${mean(g.col)}  TSTR ${mean(g.auc)}  violations ${mean(g.viol)}  point-mass err ${mean(g.pm)}  missing err ${mean(g.miss)}  outside range ${mean(g.out)}  tie-share err ${mean(g.tie)}  [${g.tvd.map((x) => x.toFixed(3)).join(' ')}]`);
}
