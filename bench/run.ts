/**
 * Runs every benchmark: ./node_modules/.bin/node bench/run.ts (or npm run bench).
 * The key ceremony at scale (bench/scale-ceremony.ts) runs at n = 10 parties unless
 * BLINDSUM_BENCH_SCALE_N lists others (e.g. 10,30; 0 skips it); BLINDSUM_BENCH_SECAGG_LENGTH
 * adds one secure-aggregation query of that many statistics at each n.
 * `npm run bench -- scale [options]` runs only the end-to-end scale table (bench/scale.ts),
 * `npm run bench -- sim [options]` only the simulated-scale bench (bench/scale-sim.ts),
 * `npm run bench -- floors` only the CKKS floors table (bench/ckks-floors.ts),
 * `npm run bench -- agg [L]` only the aggregator's O(L) steps on and off its event loop (bench/agg-steps.ts),
 * `npm run bench -- models [parties, e.g. 3,10]` only the iterative models and their DP error table (bench/models.ts),
 * `npm run bench -- ddp` only the bits per coordinate and encoding cost of training rounds' noise (bench/ddp.ts),
 * `npm run bench -- train [seeds]` only the test AUC of DP training at ε = 1 and 4 (bench/train-dp.ts).
 */
import { benchAggregatorSteps } from './agg-steps.ts';
import { benchCkksFloors } from './ckks-floors.ts';
import { benchDdp } from './ddp.ts';
import { benchEndToEnd } from './e2e.ts';
import { benchModels } from './models.ts';
import { benchScaleCeremonies } from './scale-ceremony.ts';
import { benchScale, scaleOptions } from './scale.ts';
import { benchSimulatedScale, simOptions } from './scale-sim.ts';
import { benchSecAgg } from './secagg.ts';
import { benchTranscript } from './transcript.ts';
import { benchTrainDp } from './train-dp.ts';

const [which, ...rest] = process.argv.slice(2);
if (which === 'scale') await benchScale(scaleOptions(rest));
else if (which === 'sim') await benchSimulatedScale(simOptions(rest));
else if (which === 'floors') await benchCkksFloors();
else if (which === 'agg') await benchAggregatorSteps(rest[0] ? Number(rest[0]) : undefined);
else if (which === 'ddp') await benchDdp();
else if (which === 'train') await benchTrainDp(rest[0] ? { seeds: Number(rest[0]) } : {});
else if (which === 'models') await benchModels(rest[0] ? { parties: rest[0].split(',').map(Number) } : {});
else {
  await benchSecAgg();
  await benchCkksFloors();
  await benchTranscript();
  await benchAggregatorSteps();
  await benchEndToEnd();
  await benchModels();
  await benchDdp();
  await benchTrainDp();
  await benchScaleCeremonies();
  await benchScale(scaleOptions());
  await benchSimulatedScale(simOptions());
}
