import { readFileSync } from 'node:fs';
import { AnalystClient, outcomeFromResponse, type QueryOutcome } from '../../client/analyst.ts';
import { describeQuery, formatResult, parseQueryJson, type Query } from '../../stats/index.ts';
import { int, str, UsageError, type Command } from '../args.ts';
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
  if (v['bins'] !== undefined) json['bins'] = String(v['bins']).split(',').map((x) => Number(x.trim()));
  if (v['target'] !== undefined) json['target'] = v['target'];
  return parseQueryJson(json);
}

export function printOutcome(o: QueryOutcome, asJson: boolean): void {
  if (asJson) {
    process.stdout.write(JSON.stringify(o, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), 2) + '\n');
    return;
  }
  if (o.status !== 'done' || !o.result) {
    process.stdout.write(`query ${o.queryId}: ${o.status}${o.error ? ` — ${o.error}` : ''}\n`);
    return;
  }
  process.stdout.write(formatResult(o.result) + '\n');
  process.stdout.write(`contributors: ${o.contributors.join(', ')}` + (o.refusals.length ? `; refused: ${o.refusals.map((r) => `${r.partyId} (${r.reason})`).join('; ')}` : '') + `\nquery id: ${o.queryId}\n`);
}

export const query: Command = {
  name: 'query',
  summary: 'run a federated query and print the result',
  usage: 'blindsum query --aggregator HOST:PORT --kind mean --column age [--where "sex = f"] [--json]',
  options: {
    aggregator: { type: 'string' }, kind: { type: 'string' }, column: { type: 'string', multiple: true }, where: { type: 'string', multiple: true },
    bins: { type: 'string' }, target: { type: 'string' }, 'query-file': { type: 'string' }, backend: { type: 'string' }, analyst: { type: 'string' },
    json: { type: 'boolean' }, 'timeout-ms': { type: 'string' }, quiet: { type: 'boolean' }, 'tls-ca': { type: 'string' },
  },
  help: {
    aggregator: 'aggregator address (default 127.0.0.1:7070)',
    kind: 'count, sum, mean, variance, histogram, frequency, contingency, covariance, correlation, linear_regression',
    column: 'column (order matters: contingency = row, column; linear_regression = predictors)',
    where: 'filter predicate, e.g. "age >= 50", "sex = f", "stage in 3,4", "bili between 1,3", "trt is missing"; all must hold',
    bins: 'histogram edges, comma-separated, strictly increasing', target: 'response column of linear_regression',
    'query-file': 'JSON query {kind, columns, filter, bins?, target?} instead of the flags', backend: 'secagg (default)',
    analyst: 'analyst name (default: $USER)', json: 'print the whole outcome as JSON', 'timeout-ms': 'give up after this long (default 600000)',
    quiet: 'do not print progress', 'tls-ca': 'CA certificate of the aggregator (TLS)',
  },
  async run(v) {
    const q = buildQuery(v);
    const client = new AnalystClient(str(v['aggregator'], 'aggregator') ?? '127.0.0.1:7070', str(v['tls-ca'], 'tls-ca'));
    try {
      if (v['quiet'] !== true && v['json'] !== true) process.stderr.write(`query: ${describeQuery(q)}\n`);
      const o = await client.run(q, {
        backend: str(v['backend'], 'backend') ?? 'secagg', analyst: str(v['analyst'], 'analyst') ?? process.env['USER'] ?? 'analyst',
        deadlineMs: int(v['timeout-ms'], 'timeout-ms', 600_000, 1000, 86_400_000),
        onEvent: (ev) => {
          if (v['quiet'] !== true && v['json'] !== true) process.stderr.write(`  [${ev.stage}] ${ev.message}\n`);
        },
      });
      printOutcome(o, v['json'] === true);
      return o.status === 'done' ? 0 : 1;
    } finally {
      client.close();
    }
  },
};

export const result: Command = {
  name: 'result',
  summary: 'fetch the result of an earlier query by id',
  usage: 'blindsum result --aggregator HOST:PORT QUERY_ID [--json]',
  options: { aggregator: { type: 'string' }, json: { type: 'boolean' }, 'tls-ca': { type: 'string' } },
  help: { aggregator: 'aggregator address (default 127.0.0.1:7070)', json: 'print JSON', 'tls-ca': 'CA certificate of the aggregator (TLS)' },
  allowPositionals: true,
  async run(v, pos) {
    if (pos.length !== 1) throw new UsageError('give exactly one query id');
    const client = new AnalystClient(str(v['aggregator'], 'aggregator') ?? '127.0.0.1:7070', str(v['tls-ca'], 'tls-ca'));
    try {
      const o = outcomeFromResponse(await client.getResult(pos[0]!));
      printOutcome(o, v['json'] === true);
      return o.status === 'done' ? 0 : 1;
    } finally {
      client.close();
    }
  },
};

export const parties: Command = {
  name: 'parties',
  summary: 'list the roster parties and whether they are connected',
  usage: 'blindsum parties --aggregator HOST:PORT',
  options: { aggregator: { type: 'string' }, json: { type: 'boolean' }, 'tls-ca': { type: 'string' } },
  help: { aggregator: 'aggregator address (default 127.0.0.1:7070)', json: 'print JSON', 'tls-ca': 'CA certificate of the aggregator (TLS)' },
  async run(v) {
    const client = new AnalystClient(str(v['aggregator'], 'aggregator') ?? '127.0.0.1:7070', str(v['tls-ca'], 'tls-ca'));
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
