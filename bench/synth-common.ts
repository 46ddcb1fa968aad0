/** What bench/synth.ts and bench/synth-sim.ts share: a model's sample as a dataset. */
import { buildDataset, type Dataset, type Schema } from '../stats/index.ts';
import type { SynthModel } from '../stats/synth/model.ts';
import { sampleCsv, type SamplingMethod } from '../stats/synth/sample.ts';

/** `rows` records sampled from the model with `seed`, loaded with the schema (its row limit raised to fit). */
export function sampledDataset(schema: Schema, m: SynthModel, rows: number, seed: string, method: SamplingMethod = 'round'): Dataset {
  return buildDataset({ ...schema, maxRowsPerParty: Math.max(schema.maxRowsPerParty, rows) }, sampleCsv(m, schema, rows, seed, method)).dataset;
}
