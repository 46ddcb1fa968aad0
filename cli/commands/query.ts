import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { openCkksOutcome, outcomeFromResponse, type QueryOutcome } from '../../client/analyst.ts';
import { runModelJob } from '../../client/jobs.ts';
import { isIterative } from '../../stats/iterative.ts';
import type { AnalystCkksKey } from '../../client/ckks-analyst.ts';
import { queryFromProto } from '../../services/common/query-codec.ts';
import { epsilonFromRho } from '../../crypto/dp/accountant.ts';
import { describeQuery, formatResult, MAX_RAW_DECRYPTION_ERROR, numericFields, parseQueryJson, type PrivacySpec, type Query } from '../../stats/index.ts';
import { ANALYST_KEY_HELP, ANALYST_KEY_OPTION, analystClient, TLS_CLIENT_HELP, TLS_CLIENT_OPTIONS, int, str, UsageError, type Command } from '../args.ts';
import { parseWhere } from '../where.ts';

function buildQuery(v: Record<string, unknown>): Query {
  if (v['query-file'] !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(String(v['query-file']), 'utf8'));
    } catch (e) {
      throw new UsageError(`--query-file: ${(e as Error).message}`);
    }
    return parseQueryJson(json);
  }
  const kind = str(v['kind'], 'kind', true);
  const json: Record<string, unknown> = {
    kind,
    columns: (v['column'] as string[] | undefined) ?? [],
    filter: ((v['where'] as string[] | undefined) ?? []).map(parseWhere),
  };
  const list = (k: string): string[] => String(v[k]).split(',').map((x) => x.trim()).filter((x) => x !== '');
  if (v['bins'] !== undefined) json['bins'] = list('bins').map(Number);
  if (v['times'] !== undefined) json['times'] = list('times').map(Number);
  if (v['positive'] !== undefined) json['positive'] = list('positive');
  for (const k of ['target', 'offset', 'time', 'event', 'strata']) if (v[k] !== undefined) json[k] = v[k];
  return parseQueryJson(json);
}

/** An iterative kind (a model fitted in rounds): print each round, then the job's answer. */
async function runJobCommand(v: Record<string, unknown>, q: Query, client: ReturnType<typeof analystClient>, backend: string, ckksKey: AnalystCkksKey | undefined): Promise<number> {
  const quiet = v['quiet'] === true || v['json'] === true;
  const tolerance = v['tolerance'] === undefined ? undefined : Number(v['tolerance']);
  if (tolerance !== undefined && !(tolerance > 0 && tolerance < 1)) throw new UsageError(`--tolerance: expected a number in (0, 1), got ${JSON.stringify(v['tolerance'])}`);
  const maxRounds = v['max-rounds'] === undefined ? undefined : int(v['max-rounds'], 'max-rounds', 25, 1, 1000);
  const privacy = privacyFromFlags(v);
  let resume: { job: string; queryIds: string[] } | undefined;
  if (v['resume'] !== undefined) {
    const m = /^([A-Za-z0-9._-]{1,64}):(.+)$/.exec(String(v['resume']));
    if (!m) throw new UsageError('--resume: expected JOB:QUERY_ID,QUERY_ID,… (the job id and its released rounds\' query ids, in order, as printed per round)');
    resume = { job: m[1]!, queryIds: m[2]!.split(',').map((x) => x.trim()).filter((x) => x !== '') };
  }
  const jobName = resume?.job ?? `job-${randomUUID().slice(0, 8)}`;
  const jobId = (): string => jobName;
  const job = await runModelJob(client, { ...q, job: jobName }, {
    ...(resume ? { resume } : {}),
    ...(privacy ? { privacy } : {}), backend, ...(ckksKey ? { ckksKey } : {}),
    ...(maxRounds !== undefined ? { maxRounds } : {}), ...(tolerance !== undefined ? { tolerance } : {}),
    deadlineMs: int(v['timeout-ms'], 'timeout-ms', 600_000, 1000, 86_400_000),
    onRound: (r, o) => {
      const res = o.result as { objective?: number | null } | undefined;
      if (!quiet) process.stderr.write(`  round ${r} of ${jobId()}: ${o.status}; objective ${res?.objective ?? '—'}; ${o.contributors.length} contributors; query ${o.queryId}\n`);
    },
  });
  if (v['json'] === true) {
    process.stdout.write(JSON.stringify({ job: job.job, result: job.result, rhoCharged: job.rhoCharged, rounds: job.rounds.map((o) => o.queryId) }, null, 2) + '\n');
    return 0;
  }
  process.stdout.write(formatResult(job.result!) + '\n');
  if (job.rhoCharged > 0) {
    process.stdout.write(`differential privacy: ${job.rounds.length} rounds, total rho = ${job.rhoCharged.toPrecision(4)} (ε = ${epsilonFromRho(job.rhoCharged, REPORT_DELTA).toPrecision(3)} at δ = ${REPORT_DELTA.toExponential(0)}); the last round's noise:\n`);
    process.stdout.write(formatPrivacy(job.last).split('\n').slice(1).join('\n') + '\n');
  }
  process.stdout.write(`job ${job.job}: ${job.rounds.length} rounds (queries ${job.rounds.map((o) => o.queryId).join(', ')}); contributors of the last: ${job.last.contributors.join(', ')}\n`);
  return 0;
}

/** δ used when reporting a zCDP cost as (ε, δ). */
export const REPORT_DELTA = 1e-6;

/** The privacy cost and the DP-noise standard deviation of every numeric field. */
export function formatPrivacy(o: QueryOutcome): string {
  const lines = [
    `differential privacy: charged rho = ${o.rhoCharged.toPrecision(4)} (ε = ${epsilonFromRho(o.rhoCharged, REPORT_DELTA).toPrecision(3)} at δ = ${REPORT_DELTA.toExponential(0)}); ` +
      `with ${o.contributors.length} contributors the release is rho = ${o.rhoSpent.toPrecision(4)}-zCDP`,
    'noise standard deviation of each released number:',
  ];
  if (o.result) {
    for (const [name, v] of numericFields(o.result)) {
      const sd = o.uncertainty[name];
      lines.push(`  ${name.padEnd(28)} ${v === null ? 'null' : String(Number(v.toPrecision(7)))}  ± ${sd === null || sd === undefined ? '?' : Number(sd.toPrecision(3))}`);
    }
  }
  return lines.join('\n');
}

export function privacyFromFlags(v: Record<string, unknown>): PrivacySpec | undefined {
  const num = (k: string): number | undefined => {
    if (v[k] === undefined) return undefined;
    const x = Number(v[k]);
    if (!Number.isFinite(x) || x <= 0) throw new UsageError(`--${k}: expected a positive number, got ${JSON.stringify(v[k])}`);
    return x;
  };
  const rho = num('rho');
  const epsilon = num('epsilon');
  const delta = num('delta');
  if (rho === undefined && epsilon === undefined && delta === undefined) return undefined;
  return { ...(rho !== undefined ? { rho } : {}), ...(epsilon !== undefined ? { epsilon } : {}), ...(delta !== undefined ? { delta } : {}) };
}

/** The analyst's CKKS key from --ckks-key (needed to read results of backend "ckks"). */
async function ckksKeyFromFlags(v: Record<string, unknown>, required: boolean): Promise<AnalystCkksKey | undefined> {
  const path = str(v['ckks-key'], 'ckks-key');
  if (path === undefined) {
    if (required) throw new UsageError('--backend ckks needs --ckks-key FILE: the analyst\'s CKKS key pair (create one with: blindsum analyst ckks-keygen --out FILE)');
    return undefined;
  }
  const { loadAnalystKeyFile } = await import('../../client/ckks-analyst.ts');
  return loadAnalystKeyFile(path);
}

/** Exit code of `blindsum query` / `blindsum result` when a DP result is released but its noise dominates. */
export const EXIT_NOISE_DOMINATES = 3;

const EXIT_NOTES = [
  'Exit status: 0 the result is released (and, under DP, its noise is within the target);',
  '  1 the query failed or was refused; 2 a usage or configuration error;',
  `  ${EXIT_NOISE_DOMINATES} a DP result was released but the noise dominates it (mean, variance, covariance, correlation,`,
  '  linear_regression: the noise sd of its key quantity exceeds 10% of that quantity\'s scale from the schema\'s',
  '  bounds); the output says which quantity and the rho that would bring it to the target ("noise" in --json).',
];

/** The exit code for a fetched outcome (EXIT_NOTES). */
export function outcomeExitCode(o: QueryOutcome): number {
  if (o.status !== 'done') return 1;
  return o.noise?.status === 'noise_dominates' ? EXIT_NOISE_DOMINATES : 0;
}

export function printOutcome(o: QueryOutcome, asJson: boolean): void {
  if (asJson) {
    process.stdout.write(JSON.stringify(o, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), 2) + '\n');
    return;
  }
  const verdict = o.noise ? `${o.noise.status}: ${o.noise.message}\n` : '';
  if (o.status !== 'done' || !o.result) {
    process.stdout.write(`query ${o.queryId}: ${o.status}${o.error ? ` — ${o.error}` : ''}\n` + verdict);
    return;
  }
  process.stdout.write(formatResult(o.result) + '\n');
  if (o.rhoCharged > 0) process.stdout.write(formatPrivacy(o) + '\n' + verdict);
  process.stdout.write(`contributors: ${o.contributors.join(', ')}` + (o.refusals.length ? `; refused: ${o.refusals.map((r) => `${r.partyId} (${r.reason})`).join('; ')}` : '') + `\nquery id: ${o.queryId}\n`);
  if (o.ckks) {
    process.stdout.write(`CKKS: decrypted here with the analyst's key (${o.ckks.params}, ${o.ckks.ciphertexts} ciphertext${o.ckks.ciphertexts > 1 ? 's' : ''} at level ${o.ckks.level}, ${o.ckks.bytes} bytes); key switched by ${o.ckks.decryptors.join(', ')}; largest error before rounding ${o.ckks.maxRawError.toExponential(2)} grid units (refused above ${MAX_RAW_DECRYPTION_ERROR}: a malformed decryption share; every sum checked against the plan's range)\n`);
  }
}

export const query: Command = {
  name: 'query',
  summary: 'run a federated query and print the result',
  usage: 'blindsum query --aggregator HOST:PORT --analyst-key alice.key --kind mean --column age [--where "sex = f"] --rho 0.05 [--json]',
  options: {
    aggregator: { type: 'string' }, kind: { type: 'string' }, column: { type: 'string', multiple: true }, where: { type: 'string', multiple: true },
    bins: { type: 'string' }, target: { type: 'string' }, 'query-file': { type: 'string' }, backend: { type: 'string' }, ...ANALYST_KEY_OPTION,
    positive: { type: 'string' }, offset: { type: 'string' }, time: { type: 'string' }, event: { type: 'string' }, strata: { type: 'string' }, times: { type: 'string' },
    'max-rounds': { type: 'string' }, tolerance: { type: 'string' }, resume: { type: 'string' },
    json: { type: 'boolean' }, 'timeout-ms': { type: 'string' }, quiet: { type: 'boolean' }, ...TLS_CLIENT_OPTIONS,
    rho: { type: 'string' }, epsilon: { type: 'string' }, delta: { type: 'string' }, 'ckks-key': { type: 'string' },
    'population-rho': { type: 'string' },
  },
  help: {
    aggregator: 'aggregator address (default 127.0.0.1:7070)',
    kind: 'count, sum, mean, variance, histogram, frequency, contingency, covariance, correlation, linear_regression, marginal, logistic_regression, poisson_regression, kaplan_meier, cox, population (the parties\' loads: rows loaded, dropped per reason, clipped; no columns, no filter; under DP printed with each figure\'s noise sd)',
    column: 'column (order matters: contingency = row, column; regressions, cox, covariance and correlation take categorical ones by treatment coding)',
    positive: 'levels that count as 1, comma-separated: of the target (logistic_regression) or of the event column (kaplan_meier, cox)',
    offset: 'poisson_regression: exposure column (log of it is the offset)', time: 'kaplan_meier, cox: follow-up time column',
    event: 'kaplan_meier, cox: event column (categorical; --positive names the event levels)', strata: 'kaplan_meier: stratify by this categorical column',
    times: 'kaplan_meier: times at which to report the numbers at risk, comma-separated',
    'max-rounds': 'iterative kinds: most rounds (exact: default 25, stops when converged; DP: exactly this many, default 4)',
    tolerance: 'iterative kinds: convergence on the relative change of the deviance (default 1e-8, as R)',
    resume: 'iterative kinds: go on with an interrupted job, JOB:QUERY_ID,… (its released rounds, in order, as printed)',
    where: 'filter predicate, e.g. "age >= 50", "sex = f", "stage in 3,4", "bili between 1,3", "trt is missing"; all must hold',
    bins: 'histogram edges (or the time grid of kaplan_meier and cox), comma-separated, strictly increasing', target: 'response column of linear_regression, logistic_regression, poisson_regression',
    'query-file': 'JSON query {kind, columns, filter, bins?, target?, …} instead of the flags (the only way to give a training plan: train_round, train_evaluate; docs/training.md)', backend: 'secagg (default) or ckks (multiparty CKKS; needs --ckks-key)',
    'analyst-key': ANALYST_KEY_HELP, json: 'print the whole outcome as JSON', 'timeout-ms': 'give up after this long (default 600000)',
    quiet: 'do not print progress', ...TLS_CLIENT_HELP,
    rho: 'privacy cost as zCDP rho (e.g. 0.05)', epsilon: 'privacy cost as epsilon (with --delta), converted to zCDP rho',
    delta: 'delta for --epsilon (e.g. 1e-6)',
    'population-rho': 'also release the population the parties\' loads used (rows loaded, dropped by the schema, clipped) as a separate population query at this rho (charged on top of the query\'s; 0: exact, where exact queries are allowed), and print whether rows were excluded or clipped, with the noise sd',
    'ckks-key': 'the analyst\'s CKKS key pair (blindsum analyst-keygen): the result is encrypted to it and decrypted here',
  },
  notes: EXIT_NOTES,
  async run(v) {
    const q = buildQuery(v);
    const backend = str(v['backend'], 'backend') ?? 'secagg';
    const ckksKey = await ckksKeyFromFlags(v, backend === 'ckks');
    const client = analystClient(v);
    try {
      if (v['quiet'] !== true && v['json'] !== true) process.stderr.write(`query: ${describeQuery(q)}\n`);
      if (isIterative(q.kind)) {
        if (v['population-rho'] !== undefined) throw new UsageError('--population-rho applies to single-release kinds; for a model, run blindsum query --kind population separately');
        return await runJobCommand(v, q, client, backend, ckksKey);
      }
      const o = await client.run(q, {
        ...(privacyFromFlags(v) ? { privacy: privacyFromFlags(v)! } : {}),
        backend, ...(ckksKey ? { ckksKey } : {}),
        deadlineMs: int(v['timeout-ms'], 'timeout-ms', 600_000, 1000, 86_400_000),
        onEvent: (ev) => {
          if (v['quiet'] !== true && v['json'] !== true) process.stderr.write(`  [${ev.stage}] ${ev.message}\n`);
        },
      });
      const popRho = v['population-rho'];
      if (popRho === undefined) {
        printOutcome(o, v['json'] === true);
        return outcomeExitCode(o);
      }
      // The population is never a flag of the result: it is its own release, noised and charged (or exact where allowed).
      const rho = Number(popRho);
      if (!(rho >= 0) || !Number.isFinite(rho)) throw new UsageError(`--population-rho: expected a number ≥ 0, got ${JSON.stringify(popRho)}`);
      const p = await client.run({ kind: 'population', columns: [], filter: [] }, {
        ...(rho > 0 ? { privacy: { rho } } : {}), backend, ...(ckksKey ? { ckksKey } : {}),
        deadlineMs: int(v['timeout-ms'], 'timeout-ms', 600_000, 1000, 86_400_000),
      });
      if (v['json'] === true) {
        process.stdout.write(JSON.stringify({ ...o, population: p }, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), 2) + '\n');
      } else {
        printOutcome(o, false);
        process.stdout.write(formatPopulationOutcome(p) + '\n');
      }
      return p.status === 'done' ? outcomeExitCode(o) : 1;
    } finally {
      client.close();
    }
  },
};

/** The population release that accompanies a query (--population-rho): whether rows were excluded or clipped, each figure with its noise sd. */
export function formatPopulationOutcome(p: QueryOutcome): string {
  if (p.status !== 'done' || !p.result || p.result.kind !== 'population') return `population (query ${p.queryId}): ${p.status}${p.error ? ` — ${p.error}` : ''}`;
  const r = p.result;
  const dp = p.rhoCharged > 0;
  const fig = (x: number, field: string): string => {
    const sd = p.uncertainty[field];
    return dp ? `about ${Number(x.toPrecision(4))} (noise sd ${sd === null || sd === undefined ? '?' : Number(sd.toPrecision(3))})` : String(x);
  };
  return [
    `population used (a separate release, query ${p.queryId}, ${dp ? `charged rho = ${p.rhoCharged.toPrecision(4)}` : 'exact'}):`,
    `  rows loaded: ${fig(r.loaded, 'loaded')}`,
    `  rows excluded by the schema: ${fig(r.droppedTotal, 'droppedTotal')}${Object.entries(r.dropped).map(([k, x]) => `; ${k} ${fig(x, `dropped.${k}`)}`).join('')}`,
    `  loaded rows with a value clipped to its bounds: ${fig(r.clipped, 'clipped')}`,
  ].join('\n');
}

export const result: Command = {
  name: 'result',
  summary: 'fetch the result of an earlier query by id',
  usage: 'blindsum result --aggregator HOST:PORT --analyst-key alice.key QUERY_ID [--json] [--ckks-key FILE]',
  options: { aggregator: { type: 'string' }, json: { type: 'boolean' }, ...TLS_CLIENT_OPTIONS, 'ckks-key': { type: 'string' }, ...ANALYST_KEY_OPTION },
  help: { aggregator: 'aggregator address (default 127.0.0.1:7070)', json: 'print JSON', ...TLS_CLIENT_HELP, 'ckks-key': 'the analyst\'s CKKS key (results of backend ckks)', 'analyst-key': ANALYST_KEY_HELP },
  allowPositionals: true,
  notes: EXIT_NOTES,
  async run(v, pos) {
    if (pos.length !== 1) throw new UsageError('give exactly one query id');
    const client = analystClient(v);
    try {
      const r = await client.getResult(pos[0]!);
      const key = await ckksKeyFromFlags(v, false);
      if (r.ckks && r.status === 'done' && !key) throw new UsageError('this result is encrypted to the analyst\'s CKKS key: give --ckks-key FILE');
      const o = r.ckks && r.status === 'done' && key ? await openCkksOutcome(queryFromProto(r.query), r, key) : outcomeFromResponse(r);
      printOutcome(o, v['json'] === true);
      return outcomeExitCode(o);
    } finally {
      client.close();
    }
  },
};

export const parties: Command = {
  name: 'parties',
  summary: 'list the roster parties and whether they are connected',
  usage: 'blindsum parties --aggregator HOST:PORT',
  options: { aggregator: { type: 'string' }, json: { type: 'boolean' }, ...TLS_CLIENT_OPTIONS },
  help: { aggregator: 'aggregator address (default 127.0.0.1:7070)', json: 'print JSON', ...TLS_CLIENT_HELP },
  async run(v) {
    const client = analystClient(v, false);
    try {
      const r = await client.listParties();
      if (v['json'] === true) {
        process.stdout.write(JSON.stringify({ threshold: r.threshold, schemaDigest: r.schemaDigest, parties: r.parties.map((p) => ({ ...p, lastSeenMs: Number(p.lastSeenMs) })) }, null, 2) + '\n');
      } else {
        process.stdout.write(`threshold t = ${r.threshold}; schema ${r.schemaDigest.slice(0, 16)}…\n`);
        for (const p of r.parties) process.stdout.write(`  ${p.partyId.padEnd(24)} ${p.connected ? 'connected' : 'offline'}${p.lastSeenMs > 0n ? `  last seen ${new Date(Number(p.lastSeenMs)).toISOString()}` : ''}\n`);
      }
      return 0;
    } finally {
      client.close();
    }
  },
};

export const budget: Command = {
  name: 'budget',
  summary: "show an analyst's privacy budget at the aggregator: limit, spent, remaining, ledger",
  usage: 'blindsum budget --aggregator HOST:PORT --analyst-key alice.key [--analyst NAME] [--json]',
  options: { aggregator: { type: 'string' }, analyst: { type: 'string' }, json: { type: 'boolean' }, ...TLS_CLIENT_OPTIONS, ...ANALYST_KEY_OPTION },
  help: { aggregator: 'aggregator address (default 127.0.0.1:7070)', analyst: 'analyst id (default: the key\'s own; another analyst\'s budget needs role auditor)', json: 'print JSON', ...TLS_CLIENT_HELP, 'analyst-key': ANALYST_KEY_HELP },
  async run(v) {
    const client = analystClient(v);
    try {
      const b = await client.getBudget(str(v['analyst'], 'analyst'));
      if (v['json'] === true) {
        process.stdout.write(JSON.stringify({ ...b, entries: b.entries.map((e) => ({ ...e, atMs: Number(e.atMs) })) }, null, 2) + '\n');
        return 0;
      }
      const eps = (r: number): string => (r > 0 ? epsilonFromRho(r, REPORT_DELTA).toPrecision(3) : '0');
      process.stdout.write(`analyst ${b.analyst}: zCDP budget rho = ${b.limitRho}; spent ${b.spentRho.toPrecision(4)} (ε = ${eps(b.spentRho)} at δ = ${REPORT_DELTA.toExponential(0)}); remaining ${b.remainingRho.toPrecision(4)}\n`);
      for (const e of b.entries) process.stdout.write(`  ${new Date(Number(e.atMs)).toISOString()}  ${e.kind.padEnd(6)}  rho ${e.rho.toPrecision(4).padEnd(8)}  query ${e.queryId}${e.reason ? `  (${e.reason})` : ''}\n`);
      return 0;
    } finally {
      client.close();
    }
  },
};
