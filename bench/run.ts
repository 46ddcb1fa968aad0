/**
 * Runs every benchmark: ./node_modules/.bin/node bench/run.ts (or npm run bench).
 * The key ceremony at scale (bench/scale-ceremony.ts) runs at n = 10 parties unless
 * BLINDSUM_BENCH_SCALE_N lists others (e.g. 10,30; 0 skips it); BLINDSUM_BENCH_SECAGG_LENGTH
 * adds one secure-aggregation query of that many statistics at each n.
 */
import { benchCkksFloors } from './ckks-floors.ts';
import { benchEndToEnd } from './e2e.ts';
import { benchScaleCeremonies } from './scale-ceremony.ts';
import { benchSecAgg } from './secagg.ts';
import { benchTranscript } from './transcript.ts';

await benchSecAgg();
await benchCkksFloors();
await benchTranscript();
await benchEndToEnd();
await benchScaleCeremonies();
