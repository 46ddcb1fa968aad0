/**
 * blindsum schema infer (stats/schema-infer.ts): a draft from one site's CSV has the types of the
 * reviewed example schema, bounds rounded outward that contain every value, and a `draft` field
 * that every service refuses until the steward removes it; the CLI writes it without overwriting.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDataset, parseSchema, SchemaError } from '../stats/index.ts';
import { inferSchema } from '../stats/schema-infer.ts';
import { loadExample } from './stats-helpers.ts';

const pbc = loadExample('pbc');

describe('schema infer', () => {
  const { schema: draft, notes } = inferSchema(pbc.csv, { name: 'pbc' });
  it('drafts the reviewed schema\'s types: identifier, codes as categorical, measurements numeric/integer', () => {
    const types = Object.fromEntries((draft['columns'] as { name: string; type: string }[]).map((c) => [c.name, c.type]));
    for (const c of pbc.schema.columns) expect(types[c.name], c.name).toBe(c.type);
    expect(notes).toHaveLength(pbc.schema.columns.length);
    expect(notes.find((n) => n.startsWith('chol:'))).toMatch(/integer, data in \[120, 1775\], drafted bounds \[0, 1800\]: widen to a plausible range; 134 missing/);
  });
  it('is refused by parseSchema while it is marked as a draft, with what to do', () => {
    expect(() => parseSchema(draft)).toThrow(SchemaError);
    expect(() => parseSchema(draft)).toThrow(/is a draft .* review them, widen the bounds .* then delete the "draft" field/);
  });
  it('once reviewed (draft removed), it loads every row of the file: the bounds contain the data', () => {
    const { draft: _d, ...reviewed } = draft;
    const { dataset, report } = buildDataset(parseSchema(reviewed), pbc.csv, { strict: true });
    expect(dataset.rowCount).toBe(418);
    expect(report.rejected).toHaveLength(0);
  });
  it('the CLI writes the draft and the notes, and never overwrites a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'blindsum-infer-'));
    try {
      const cli = (args: string[]) => spawnSync(process.execPath, [join(import.meta.dirname, '..', 'cli', 'blindsum.ts'), ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
      const out = join(dir, 's.json');
      const a = cli(['schema', 'infer', join(import.meta.dirname, '..', 'examples', 'pbc', 'pbc.csv'), '--out', out]);
      expect(a.status, a.stderr).toBe(0);
      expect(a.stderr).toMatch(/a DRAFT schema of 20 columns\. Review it before use/);
      expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(JSON.parse(JSON.stringify(draft)));
      const b = cli(['schema', 'infer', join(import.meta.dirname, '..', 'examples', 'pbc', 'pbc.csv'), '--out', out]);
      expect(b.status).toBe(2);
      expect(b.stderr).toMatch(/exists; give --force/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
