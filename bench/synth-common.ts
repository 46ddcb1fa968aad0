/**
 * What bench/synth.ts and bench/synth-sim.ts share: the datasets they run on (any CSV with its
 * schema and outcome, or a named example), and a model's sample as a dataset.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { buildDataset, findColumn, parseSchema, type Dataset, type Schema } from '../stats/index.ts';
import type { SynthModel } from '../stats/synth/model.ts';
import { sampleCsv, type SamplingMethod } from '../stats/synth/sample.ts';

/** `rows` records sampled from the model with `seed`, loaded with the schema (its row limit raised to fit). */
export function sampledDataset(schema: Schema, m: SynthModel, rows: number, seed: string, method: SamplingMethod = 'round'): Dataset {
  return buildDataset({ ...schema, maxRowsPerParty: Math.max(schema.maxRowsPerParty, rows) }, sampleCsv(m, schema, rows, seed, method)).dataset;
}

export interface BenchOutcome {
  column: string;
  positive: string;
  /** Columns left out of the classifier's features (they leak the outcome). */
  exclude?: string[];
}

export interface BenchDataset {
  name: string;
  schemaPath: string;
  schema: Schema;
  /** The CSV text. */
  csv: string;
  outcome: BenchOutcome;
}

/**
 * The named examples (examples/<name>/): their outcome for TSTR and the target fits. flchain's
 * cause of death `chapter` is missing exactly when alive, so it is left out of the features.
 */
export const PRESETS: Record<string, BenchOutcome> = {
  pbc: { column: 'status', positive: '2' },
  flchain: { column: 'death', positive: '1', exclude: ['chapter'] },
  rotterdam: { column: 'death', positive: '1' },
  mgus2: { column: 'death', positive: '1' },
};

/**
 * Parses a synth bench's command line (node:util parseArgs with `options`) and its datasets
 * (benchDatasets, default pbc and flchain); a usage error prints `script: message` and exits 2.
 */
export function parseBenchArgs<O extends ParseArgsOptionsConfig>(script: string, options: O): { values: ReturnType<typeof parseArgs<{ options: O }>>['values']; datasets: BenchDataset[] } {
  try {
    const values = parseArgs({ options }).values;
    return { values, datasets: benchDatasets(values as Parameters<typeof benchDatasets>[0], ['pbc', 'flchain']) };
  } catch (e) {
    if (e instanceof BenchArgsError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${script}: ${(e as Error).message}\n`);
      process.exit(2);
    }
    throw e;
  }
}

export class BenchArgsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchArgsError';
  }
}

/** Options both benches take to name their data. */
export const DATA_OPTIONS = {
  preset: { type: 'string' },
  data: { type: 'string' },
  schema: { type: 'string' },
  target: { type: 'string' },
  positive: { type: 'string' },
  exclude: { type: 'string' },
} as const;

/**
 * The datasets named by the options: `--data FILE --schema FILE --target COL --positive VALUE
 * [--exclude COL,COL]` (any dataset), or `--preset NAME[,NAME…]` (examples/NAME), or `fallback`
 * presets when neither is given. Throws BenchArgsError with what to fix.
 */
export function benchDatasets(v: { preset?: string; data?: string; schema?: string; target?: string; positive?: string; exclude?: string }, fallback: string[]): BenchDataset[] {
  const custom = [v.data, v.schema, v.target, v.positive].some((x) => x !== undefined);
  if (custom && v.preset !== undefined) throw new BenchArgsError('give either --preset NAME or --data FILE --schema FILE --target COL --positive VALUE, not both');
  if (!custom) {
    const names = v.preset !== undefined ? v.preset.split(',').filter((x) => x.length > 0) : fallback;
    if (names.length === 0) throw new BenchArgsError(`--preset: give one or more of ${Object.keys(PRESETS).join(', ')}`);
    return names.map((name) => {
      const outcome = PRESETS[name];
      if (!outcome) throw new BenchArgsError(`--preset: unknown dataset "${name.slice(0, 40)}"; presets: ${Object.keys(PRESETS).join(', ')} (or --data FILE --schema FILE --target COL --positive VALUE)`);
      const dir = new URL(`../examples/${name}/`, import.meta.url).pathname;
      return load(`${dir}${name}.csv`, `${dir}schema.json`, outcome);
    });
  }
  for (const [flag, x] of [['--data', v.data], ['--schema', v.schema], ['--target', v.target], ['--positive', v.positive]] as const) {
    if (x === undefined || x.length === 0) throw new BenchArgsError(`${flag} is missing: a custom dataset needs --data FILE --schema FILE --target COL --positive VALUE`);
  }
  const exclude = v.exclude ? v.exclude.split(',').filter((x) => x.length > 0) : undefined;
  return [load(v.data!, v.schema!, { column: v.target!, positive: v.positive!, ...(exclude ? { exclude } : {}) })];
}

function load(csvPath: string, schemaPath: string, outcome: BenchOutcome): BenchDataset {
  for (const [what, p] of [['data', csvPath], ['schema', schemaPath]] as const) {
    if (!existsSync(p)) throw new BenchArgsError(`--${what}: no file ${p.slice(0, 200)}`);
  }
  let schema: Schema;
  try {
    schema = parseSchema(JSON.parse(readFileSync(schemaPath, 'utf8')));
  } catch (e) {
    throw new BenchArgsError(`--schema ${schemaPath.slice(0, 200)}: ${(e as Error).message}`);
  }
  const target = findColumn(schema, outcome.column);
  if (!target) throw new BenchArgsError(`--target: no column "${outcome.column.slice(0, 40)}" in schema "${schema.name}" (columns: ${schema.columns.map((c) => c.name).join(', ')})`);
  if (target.type !== 'categorical') throw new BenchArgsError(`--target: "${target.name}" is ${target.type}; the outcome must be a categorical column`);
  if (!target.categories!.includes(outcome.positive)) throw new BenchArgsError(`--positive: "${outcome.positive.slice(0, 40)}" is not a category of "${target.name}" (categories: ${target.categories!.join(', ')})`);
  for (const x of outcome.exclude ?? []) {
    if (!findColumn(schema, x)) throw new BenchArgsError(`--exclude: no column "${x.slice(0, 40)}" in schema "${schema.name}"`);
  }
  const csv = readFileSync(csvPath, 'utf8');
  const { report } = buildDataset(schema, csv);
  if (report.rejected.length > 0) {
    const r = report.rejected[0]!;
    throw new BenchArgsError(`--data ${csvPath.slice(0, 200)}: ${report.rejected.length} row(s) do not load under the schema (first: line ${r.line}, column "${r.column}": ${r.reason}); fix the data or the schema`);
  }
  return { name: schema.name, schemaPath, schema, csv, outcome };
}
