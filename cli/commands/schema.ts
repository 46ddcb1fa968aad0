/** blindsum schema infer — a draft schema from a CSV, for the data steward to review (stats/schema-infer.ts). */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { inferSchema } from '../../stats/schema-infer.ts';
import { int, str, UsageError, type Command } from '../args.ts';

export const schema: Command = {
  name: 'schema',
  summary: 'draft a schema from a CSV (types, levels, bounds rounded outward), marked for the data steward\'s review',
  usage: 'blindsum schema infer data.csv [--name NAME] [--out schema.json] [--max-rows N] [--missing ",NA,NULL"]',
  allowPositionals: true,
  options: { name: { type: 'string' }, out: { type: 'string' }, 'max-rows': { type: 'string' }, missing: { type: 'string' }, force: { type: 'boolean' } },
  help: {
    name: 'the schema\'s name (default: the file name without .csv)', out: 'write the draft here (default: stdout); never overwrites without --force',
    'max-rows': 'maxRowsPerParty (default: a round number above twice the file\'s rows)', missing: 'comma-separated strings read as missing (default: "", NA, N/A, NULL, null, NaN, .)',
    force: 'overwrite --out',
  },
  async run(v, positionals) {
    const [sub, file, ...rest] = positionals;
    if (sub !== 'infer') throw new UsageError(`schema: give infer FILE.csv (got ${sub === undefined ? 'nothing' : JSON.stringify(sub)}); see blindsum schema --help`);
    if (file === undefined || rest.length) throw new UsageError('schema infer: give exactly one CSV file');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
    }
    const missing = v['missing'] === undefined ? undefined : String(v['missing']).split(',');
    const { schema: draft, notes } = inferSchema(text, {
      name: str(v['name'], 'name') ?? basename(file).replace(/\.csv$/i, ''),
      ...(v['max-rows'] !== undefined ? { maxRowsPerParty: int(v['max-rows'], 'max-rows', 10_000, 1, 2 ** 31) } : {}),
      ...(missing ? { missing } : {}),
    });
    const json = JSON.stringify(draft, null, 2) + '\n';
    const out = str(v['out'], 'out');
    if (out === undefined) process.stdout.write(json);
    else {
      if (existsSync(out) && v['force'] !== true) throw new UsageError(`${out} exists; give --force to overwrite it`);
      writeFileSync(out, json);
    }
    process.stderr.write(`${out ? `wrote ${out}: ` : ''}a DRAFT schema of ${notes.length} columns. Review it before use: bounds and categories come from this file's data.\n${notes.map((n) => `  ${n}`).join('\n')}\n`);
    return 0;
  },
};
