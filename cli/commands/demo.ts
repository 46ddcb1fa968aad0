import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { QueryOutcome } from '../../client/analyst.ts';
import type { AnalystCkksKey } from '../../client/ckks-analyst.ts';
import { loadSchemaFile } from '../../services/common/schema-file.ts';
import {
  buildDataset, centralResult, compareResults, describeQuery, localStatistics, MAX_RAW_DECRYPTION_ERROR, numericFields, parseCsv, planQuery, splitCsvText,
  type Query, type QueryResult, type Schema,
} from '../../stats/index.ts';
import { int, str, UsageError, type Command } from '../args.ts';
import { PBC_QUERIES, queriesForSchema } from '../demo-queries.ts';
import { epsilonFromRho } from '../../crypto/dp/accountant.ts';
import { formatPrivacy, REPORT_DELTA } from './query.ts';
import { auditDemo } from '../demo-audit.ts';
import { LocalFederation } from '../federation.ts';
import { keyFingerprint } from '../../services/common/analysts.ts';
import { synthDemo } from '../demo-synth.ts';
import { modelsDemo } from '../demo-models.ts';
import { trainingDemo } from '../demo-training.ts';
import { holdoutSplit } from '../../stats/eval/holdout.ts';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
/** Federated and central results must agree to this relative precision (fixed-point grid ≤ 2^-13). */
const REL_TOLERANCE = 1e-6;

function fmt(x: number | null): string {
  if (x === null) return 'null';
  if (Number.isInteger(x)) return String(x);
  return Math.abs(x) >= 1e5 || Math.abs(x) < 1e-3 ? x.toExponential(6) : x.toFixed(6);
}

/** CSV text holding only the rows of the given parties' parts (the data of the contributors). */
function unionCsv(parts: string[]): string {
  const header = parseCsv(parts[0]!).header.join(',');
  const bodies = parts.map((p) => p.slice(p.indexOf('\n') + 1).trimEnd()).filter((b) => b.length > 0);
  return [header, ...bodies].join('\n') + '\n';
}

interface Check {
  exact: boolean;
  maxAbsDiff: number;
  maxRelDiff: number;
  ok: boolean;
}

function check(q: Query, schema: Schema, o: QueryOutcome, parties: number, centralCsv: string): { check: Check; central: QueryResult } {
  const { dataset } = buildDataset(schema, centralCsv);
  const plan = planQuery(q, schema, { parties, ringBits: 64 });
  const central = localStatistics(q, schema, plan, dataset).sums;
  const exact = central.length === o.exactSums.length && central.every((s, i) => s === o.exactSums[i]) && plan.scaleBits.every((s, i) => s === o.scaleBits[i]);
  const independent = centralResult(q, schema, dataset);
  const { maxAbsDiff, maxRelDiff } = compareResults(o.result!, independent);
  return { check: { exact, maxAbsDiff, maxRelDiff, ok: exact && maxRelDiff <= REL_TOLERANCE }, central: independent };
}

function printComparison(fed: QueryResult, central: QueryResult, maxRows = 14): void {
  const f = numericFields(fed);
  const c = numericFields(central);
  process.stdout.write(`    ${'statistic'.padEnd(26)} ${'federated'.padStart(16)} ${'central'.padStart(16)} ${'|diff|'.padStart(10)}\n`);
  f.slice(0, maxRows).forEach(([name, x], i) => {
    const y = c[i]![1];
    const d = x === null || y === null ? (x === y ? 0 : Infinity) : Math.abs(x - y);
    process.stdout.write(`    ${name.padEnd(26)} ${fmt(x).padStart(16)} ${fmt(y).padStart(16)} ${d.toExponential(1).padStart(10)}\n`);
  });
  if (f.length > maxRows) process.stdout.write(`    … ${f.length - maxRows} more statistics\n`);
}

/** Queries of the DP section: ρ = 0.25 each, ε ≈ 4.0 at δ = 1e-6 each (ε composes to ≈ 9.4 over the four). */
const DP_RHO = 0.25;

/**
 * The same kind of questions with differential privacy: each party adds its share of Skellam
 * noise; the result carries the noise scale of every number, and the analyst's budget is charged.
 */
async function runDpSection(client: ReturnType<LocalFederation['client']>, queries: Query[], schema: Schema, csv: string): Promise<number> {
  // Kinds whose noisy answers are informative on a few hundred rows; second moments of wide-bounded
  // columns (covariance, regression) need far more rows or budget (docs/dp.md).
  const dpQueries = queries.filter((q) => q.kind === 'mean' || q.kind === 'frequency' || q.kind === 'histogram' || q.kind === 'contingency').slice(0, 4);
  const { dataset } = buildDataset(schema, csv);
  let failures = 0;
  process.stdout.write(`Differentially private queries (rho = ${DP_RHO} each; each party adds its share of the noise, sized so that the t − c honest contributors of any release carry all of it)\n\n`);
  for (const [i, q] of dpQueries.entries()) {
    process.stdout.write(`[DP ${i + 1}/${dpQueries.length}] ${describeQuery(q)}\n`);
    const o = await client.run(q, { backend: 'secagg', privacy: { rho: DP_RHO } });
    if (o.status !== 'done' || !o.result) {
      failures++;
      process.stdout.write(`    FAILED: ${o.error}\n\n`);
      continue;
    }
    const central = numericFields(centralResult(q, schema, dataset));
    process.stdout.write(`    ${'statistic'.padEnd(26)} ${'DP result'.padStart(14)} ${'± noise sd'.padStart(12)} ${'central'.padStart(14)} ${'z'.padStart(6)}\n`);
    for (const [j, [name, x]] of numericFields(o.result).slice(0, 12).entries()) {
      const sd = o.uncertainty[name] ?? null;
      const y = central[j]![1];
      const z = x !== null && y !== null && sd ? (x - y) / sd : NaN;
      process.stdout.write(`    ${name.padEnd(26)} ${fmt(x).padStart(14)} ${(sd === null ? '?' : sd.toPrecision(3)).padStart(12)} ${fmt(y).padStart(14)} ${(Number.isNaN(z) ? '' : z.toFixed(2)).padStart(6)}\n`);
    }
    process.stdout.write(`    ${formatPrivacy(o).split('\n')[0]}\n\n`);
  }
  const b = await client.getBudget();
  process.stdout.write(`Budget of analyst "${b.analyst}": spent rho = ${b.spentRho.toPrecision(4)} of ${b.limitRho} (ε = ${epsilonFromRho(b.spentRho, REPORT_DELTA).toPrecision(3)} at δ = ${REPORT_DELTA.toExponential(0)}); remaining ${b.remainingRho.toPrecision(4)}\n\n`);
  return failures;
}

/** The demo analyst's CKKS key file (written with --web, for the console's analyst page). */
const demoCkksKeyPath = (fed: LocalFederation): string => fed.analystKeyPath('demo').replace(/\.key$/, '.ckks.key');

/**
 * Waits for the CKKS key ceremony and creates the demo analyst's CKKS key pair (blindsum analyst-keygen);
 * `writeFile`: also as a 0600 key file (demoCkksKeyPath) to load in the web console.
 */
async function ckksSetup(fed: LocalFederation, writeFile: boolean): Promise<AnalystCkksKey> {
  const t0 = performance.now();
  const sha = await fed.waitCollectiveKey();
  const { generateAnalystKey, writeAnalystKeyFile } = await import('../../client/ckks-analyst.ts');
  const key = await generateAnalystKey();
  if (writeFile) writeAnalystKeyFile(demoCkksKeyPath(fed), key);
  process.stdout.write(`  CKKS key ceremony (CRS commit-reveal, CKG, t-of-n Thresholdizer): collective public key SHA-256 ${sha.slice(0, 16)}… ready after ${((performance.now() - t0) / 1000).toFixed(1)} s; each party keeps its key share (0600); the analyst has its own CKKS key pair\n\n`);
  return key;
}

/** The web console's URL and the key files to sign in with (demo --web). */
function printWebConsole(fed: LocalFederation, ckks: boolean): void {
  process.stdout.write(
    `\n  web console: ${fed.webUrl}analyst/\n    sign in with the analyst key file ${fed.analystKeyPath('demo')}\n` +
    (ckks ? `    for CKKS queries, load the CKKS key file ${demoCkksKeyPath(fed)} (written once the key ceremony has run)\n` : '') +
    `    operator page: ${fed.webUrl}operator/ (sign in with the auditor's key file ${fed.analystKeyPath('auditor')})\n\n`,
  );
}

/** Resolves on Ctrl-C (SIGINT) or SIGTERM. */
function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

export const demo: Command = {
  name: 'demo',
  summary: 'run a local federation (aggregator + party processes on loopback) on example data and compare with central results',
  usage: 'blindsum demo [--data FILE.csv --schema FILE.json] [--parties 3] [--seed S] [--backend both|secagg|ckks] [--keep] [--web]',
  options: { data: { type: 'string' }, schema: { type: 'string' }, parties: { type: 'string' }, seed: { type: 'string' }, keep: { type: 'boolean' }, dir: { type: 'string' }, backend: { type: 'string' }, web: { type: 'boolean' } },
  help: {
    web: 'also serve the web console (analyst and operator pages, docs/web.md) on a loopback port, print its URL and the key files to sign in with, and keep the federation up after the demo until Ctrl-C',
    data: 'CSV file to split across the parties (default: examples/pbc/pbc.csv)', schema: 'its schema (default: examples/pbc/schema.json)',
    parties: 'number of party processes (default 3)', seed: 'seed of the random row split (default "blindsum")',
    keep: 'keep the working directory (keys, roster, logs, databases)', dir: 'working directory (default: a new temporary directory)',
    backend: 'run the queries with secure aggregation, multiparty CKKS, or both (default both)',
  },
  async run(v) {
    const dataPath = resolve(str(v['data'], 'data') ?? join(EXAMPLES, 'pbc/pbc.csv'));
    const schemaPath = resolve(str(v['schema'], 'schema') ?? join(EXAMPLES, 'pbc/schema.json'));
    const n = int(v['parties'], 'parties', 3, 2, 30);
    const seed = str(v['seed'], 'seed') ?? 'blindsum';
    const backendFlag = str(v['backend'], 'backend') ?? 'both';
    if (!['both', 'secagg', 'ckks'].includes(backendFlag)) throw new UsageError(`--backend: expected both, secagg or ckks, got ${JSON.stringify(backendFlag)}`);
    const backends = backendFlag === 'both' ? ['secagg', 'ckks'] : [backendFlag];
    const schema = loadSchemaFile(schemaPath);
    // 20% of the rows never join the federation: the synthetic data are evaluated against them
    const { train: csv, holdout } = holdoutSplit(readFileSync(dataPath, 'utf8'), 0.2, seed);
    const parts = splitCsvText(csv, n, seed);
    const queries = v['data'] === undefined && v['schema'] === undefined ? PBC_QUERIES : queriesForSchema(schema);
    const dir = str(v['dir'], 'dir') ?? mkdtempSync(join(tmpdir(), 'blindsum-demo-'));
    process.stdout.write(`blindsum demo: ${dataPath}\n  ${n} parties (rows split at random, seed "${seed}"): ${parts.map((p) => parseCsv(p).rows.length).join(' + ')} rows; ${parseCsv(holdout).rows.length} rows held out for the synthetic-data evaluation\n  working directory: ${dir}${v['keep'] || v['dir'] !== undefined ? '' : ' (removed at the end; --keep keeps it)'}\n`);
    const t0 = performance.now();
    const web = v['web'] === true;
    const fed = await LocalFederation.start({
      dir, schemaPath, partyData: parts, ckks: backends.includes('ckks'), analysts: ['demo'],
      ...(web ? { aggregatorArgs: ['--web-listen', '127.0.0.1:0', '--web-operator'] } : {}),
    });
    process.stdout.write(`  aggregator on ${fed.address}; all ${n} parties connected (${((performance.now() - t0) / 1000).toFixed(1)} s); threshold t = ${Math.floor(n / 2) + 1}\n`);
    if (web) printWebConsole(fed, backends.includes('ckks'));
    const me = fed.identity('demo');
    process.stdout.write(`  analyst "${me.id}" signed in: Ed25519 key ${keyFingerprint(me.identity.publicKey)}… listed in analysts.json (signed by the operator key named in roster.json); every query and read is signed, and every party checks the signature\n\n`);
    const client = fed.client('demo');
    let failures = 0;
    try {
      const ckksKey = backends.includes('ckks') ? await ckksSetup(fed, web) : undefined;
      for (const backend of backends) for (const [i, q] of queries.entries()) {
        process.stdout.write(`[${i + 1}/${queries.length}] ${describeQuery(q)}  — backend ${backend}\n`);
        const o = await client.run(q, { backend, ...(backend === 'ckks' ? { ckksKey } : {}) });
        if (o.status !== 'done' || !o.result) {
          failures++;
          process.stdout.write(`    FAILED: ${o.error}\n\n`);
          continue;
        }
        const contributing = fed.parties.filter((p) => o.contributors.includes(p.id)).map((p) => parts[p.index]!);
        const { check: c, central } = check(q, schema, o, n, unionCsv(contributing));
        printComparison(o.result, central);
        if (o.refusals.length) process.stdout.write(`    refused: ${o.refusals.map((r) => `${r.partyId} (${r.reason})`).join('; ')}\n`);
        process.stdout.write(
          `    ${c.ok ? 'OK' : 'MISMATCH'}: fixed-point sums ${c.exact ? 'identical to' : 'DIFFER from'} the central sums; max |diff| vs independent central computation ${c.maxAbsDiff.toExponential(2)} (relative ${c.maxRelDiff.toExponential(2)}); ${o.contributors.length} parties, ${o.elapsedMs.toFixed(0)} ms\n\n`,
        );
        if (o.ckks) {
          process.stdout.write(`    CKKS: ${o.ckks.ciphertexts} ciphertext(s) at level ${o.ckks.level}, ${(o.ckks.bytes / 1024).toFixed(0)} KiB, switched to the analyst's key by ${o.ckks.decryptors.join(', ')} and decrypted only here; largest error before rounding ${o.ckks.maxRawError.toExponential(1)} grid units (refused above ${MAX_RAW_DECRYPTION_ERROR}; sums checked against the plan's range)\n\n`);
        }
        if (!c.ok) failures++;
      }
      if (v['data'] === undefined && v['schema'] === undefined) {
        const partsOf = (ids: string[]): string => unionCsv(fed.parties.filter((p) => ids.includes(p.id)).map((p) => parts[p.index]!));
        failures += await modelsDemo(client, schema, backends, ckksKey, partsOf, dir);
        failures += await trainingDemo(client, schema, partsOf);
      }
      failures += await runDpSection(client, queries, schema, csv);
      failures += await synthDemo(client, schema, csv, holdout, dir);
      failures += await auditDemo(fed, schemaPath);
    } finally {
      client.close();
      if (web) {
        printWebConsole(fed, backends.includes('ckks'));
        process.stdout.write('  the federation stays up for the web console: press Ctrl-C to stop it\n');
        await interrupted();
      }
      await fed.stop();
      if (!v['keep'] && v['dir'] === undefined) rmSync(dir, { recursive: true, force: true });
    }
    const runs = queries.length * backends.length;
    process.stdout.write(failures === 0 ? `All ${runs} federated results (${backends.join(' and ')}) equal the central results (exactly on the fixed-point grid).\n` : `${failures} of ${runs} queries failed or differed.\n`);
    return failures === 0 ? 0 : 1;
  },
};
