/** Runs every benchmark: ./node_modules/.bin/node bench/run.ts (or npm run bench). */
import { benchCkksFloors } from './ckks-floors.ts';
import { benchEndToEnd } from './e2e.ts';
import { benchSecAgg } from './secagg.ts';
import { benchTranscript } from './transcript.ts';

await benchSecAgg();
await benchCkksFloors();
await benchTranscript();
await benchEndToEnd();
