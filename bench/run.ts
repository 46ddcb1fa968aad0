/**
 * Runs every benchmark: ./node_modules/.bin/node bench/run.ts (or npm run bench).
 * `npm run bench -- scale [options]` runs only the end-to-end scale table (bench/scale.ts),
 * `npm run bench -- sim [options]` only the simulated-scale bench (bench/scale-sim.ts).
 */
import { benchEndToEnd } from './e2e.ts';
import { benchScale, scaleOptions } from './scale.ts';
import { benchSimulatedScale, simOptions } from './scale-sim.ts';
import { benchSecAgg } from './secagg.ts';
import { benchTranscript } from './transcript.ts';

const [which, ...rest] = process.argv.slice(2);
if (which === 'scale') await benchScale(scaleOptions(rest));
else if (which === 'sim') await benchSimulatedScale(simOptions(rest));
else {
  await benchSecAgg();
  await benchTranscript();
  await benchEndToEnd();
  await benchScale(scaleOptions());
  await benchSimulatedScale(simOptions());
}
