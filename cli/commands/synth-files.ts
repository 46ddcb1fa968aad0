/**
 * Files the synth, train and demo commands share: a signed model checked against the schema, the
 * fitter's identity, a CSV loaded with the schema, NAME=VALUE flags, and a model's facts for a report.
 */
import { existsSync, readFileSync } from 'node:fs';
import { loadIdentityFile, writeNewIdentityFile, type IdentityFile } from '../../services/common/keys.ts';
import { buildDataset, type Dataset, type Schema } from '../../stats/index.ts';
import { checkModelSchema, verifyModel } from '../../stats/synth/artifact.ts';
import type { SynthModel } from '../../stats/synth/model.ts';
import { UsageError } from '../args.ts';

function readJson(path: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`${what} ${path}: ${(e as Error).message}`);
  }
}

/** Reads, verifies (digest, signature, optional trusted keys) and checks a model against the schema. */
export function loadModel(path: string, schema: Schema, trustedKeys?: string[]): SynthModel {
  const m = verifyModel(readJson(path, 'model'), { source: path, ...(trustedKeys && trustedKeys.length ? { trustedKeys } : {}) });
  checkModelSchema(m, schema);
  return m;
}

/** The fitter's identity: loaded when the key file exists, else created (mode 0600). */
export function fitterIdentity(path: string, id: string): IdentityFile {
  return existsSync(path) ? loadIdentityFile(path) : writeNewIdentityFile(path, id);
}

/** A CSV loaded with the schema (more rows than maxRowsPerParty allowed: synthetic data can be large). */
export function loadData(schema: Schema, path: string): Dataset {
  const text = readFileSync(path, 'utf8');
  const rows = text.split('\n').length;
  const { dataset, report } = buildDataset({ ...schema, maxRowsPerParty: Math.max(schema.maxRowsPerParty, rows) }, text);
  if (report.rejected.length > 0) process.stderr.write(`  ${path}: ${report.rejected.length} invalid row(s) skipped (first: line ${report.rejected[0]!.line}: ${report.rejected[0]!.reason})\n`);
  return dataset;
}

/** "name=value" → [name, value]. */
export function pair(s: string, flag: string): [string, string] {
  const i = s.indexOf('=');
  if (i <= 0 || i === s.length - 1) throw new UsageError(`--${flag}: expected NAME=VALUE, got ${JSON.stringify(s)}`);
  return [s.slice(0, i), s.slice(i + 1)];
}

/** The model facts copied into a report entry. */
export function modelInfo(m: SynthModel): Record<string, unknown> {
  const name = (i: number): string => m.columns[i]?.name ?? `#${i}`;
  const structure = {
    cliques: (m.fit?.cliques ?? []).map((c) => c.map(name)),
    parents: (m.order ?? m.columns.map((_, i) => i)).map((i): [string, string[]] => [name(i), (m.parents?.[i] ?? []).map(name)]),
  };
  return { method: m.method, rho: m.budget.rho, epsilon: m.budget.epsilon, delta: m.budget.delta, exact: m.budget.exact, queries: m.budget.queries.map((q) => q.queryId), structure };
}
