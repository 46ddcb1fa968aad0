/**
 * End-to-end scale table (issue 14, "Must show"): a real LocalFederation (cli/federation.ts:
 * the aggregator and n party processes started by the real CLI, loopback gRPC) for each n, one
 * exact marginal query whose statistic vector has L entries (bench/scale-common.ts), on each
 * backend. Per run: wall time submit → result at the analyst (CKKS: including its decryption),
 * peak RSS (VmHWM, reset before the query through /proc/PID/clear_refs) of the aggregator and of
 * every party, the transcript bytes the query logged, whether the sums equal the central
 * computation, and the status or error of a failed run (a failure is a row, never a crash).
 *
 * Run: npm run bench -- scale [--n 3,10,30] [--L 1e3,1e5,1e6] [--backends secagg,ckks]
 *        [--repeats 1] [--timeout-s 300] [--rows 50] [--round-timeout-ms 30000]
 * or the same through BLINDSUM_SCALE_N, _L, _BACKENDS, _REPEATS, _TIMEOUT_S, _ROWS, _ROUND_TIMEOUT_MS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { QueryOutcome } from '../client/analyst.ts';
import { generateAnalystKey, type AnalystCkksKey } from '../client/ckks-analyst.ts';
import { LocalFederation } from '../cli/federation.ts';
import {
  bytesText, bytesUnder, centralSums, exp10, load, marginalOfLength, mb, median, numberList, partyCsvs, PBC_SCHEMA_PATH, printTable, procStatusKb,
  resetPeakRss, sameSums, TRANSCRIPT_FILES, transcriptEntryBytes,
} from './scale-common.ts';

export type Backend = 'secagg' | 'ckks';

export interface ScaleOptions {
  ns: number[];
  Ls: number[];
  backends: Backend[];
  repeats: number;
  /** Per query run (and per federation start or CKKS ceremony). */
  timeoutS: number;
  /** Rows of each party's data. */
  rows: number;
  roundTimeoutMs: number;
}

/** Goals of issue 14 at 30 parties × 10^6 values. */
export const GOALS = { n: 30, L: 1_000_000, wallS: { secagg: 60, ckks: 120 } as Record<Backend, number>, aggregatorMb: 1024, partyMb: 300 };

export function scaleOptions(argv: string[] = [], env: NodeJS.ProcessEnv = process.env): ScaleOptions {
  const { values } = parseArgs({
    args: argv, strict: false,
    options: { n: { type: 'string' }, L: { type: 'string' }, backends: { type: 'string' }, repeats: { type: 'string' }, 'timeout-s': { type: 'string' }, rows: { type: 'string' }, 'round-timeout-ms': { type: 'string' } },
  });
  const s = (k: string, e: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : env[e]);
  const backends = (s('backends', 'BLINDSUM_SCALE_BACKENDS') ?? 'secagg,ckks').split(',').map((b) => b.trim());
  for (const b of backends) if (b !== 'secagg' && b !== 'ckks') throw new RangeError(`backends: "secagg" and/or "ckks", got ${JSON.stringify(b)}`);
  return {
    ns: numberList(s('n', 'BLINDSUM_SCALE_N'), [3, 10, 30]),
    Ls: numberList(s('L', 'BLINDSUM_SCALE_L'), [1e3, 1e5, 1e6]),
    backends: backends as Backend[],
    repeats: numberList(s('repeats', 'BLINDSUM_SCALE_REPEATS'), [1])[0]!,
    timeoutS: numberList(s('timeout-s', 'BLINDSUM_SCALE_TIMEOUT_S'), [300])[0]!,
    rows: numberList(s('rows', 'BLINDSUM_SCALE_ROWS'), [50])[0]!,
    roundTimeoutMs: numberList(s('round-timeout-ms', 'BLINDSUM_SCALE_ROUND_TIMEOUT_MS'), [30_000])[0]!,
  };
}

export interface ScaleRow {
  n: number;
  L: number;
  backend: Backend;
  status: string;
  wallMs: number[];
  aggregatorKb: number | undefined;
  partyMaxKb: number | undefined;
  partyMedianKb: number | undefined;
  partiesMeasured: number;
  transcriptEntryBytes: number | undefined;
  transcriptFileBytes: number | undefined;
  central: 'yes' | 'NO' | '—';
  error: string;
  load: string;
}

class Timeout extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout(`${what}: no answer within ${(ms / 1000).toFixed(0)} s`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function short(s: string, max = 200): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** The last warn/error line of a log (why a run failed, as the process saw it). */
function lastWarning(fed: LocalFederation, log: string, match: RegExp = /"level":"(warn|error)"/): string {
  const lines = fed.logTail(log, 200).split('\n').filter((l) => match.test(l));
  return lines.length ? short(lines[lines.length - 1]!, 240) : '';
}

interface Running {
  fed: LocalFederation;
  dir: string;
}

async function startFederation(n: number, backend: Backend, csvs: string[], o: ScaleOptions): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), `blindsum-scale-${n}-${backend}-`));
  try {
    const fed = await LocalFederation.start({
      dir, schemaPath: PBC_SCHEMA_PATH, partyData: csvs, ckks: backend === 'ckks', roundTimeoutMs: o.roundTimeoutMs,
      connectTimeoutMs: Math.max(30_000, o.timeoutS * 1000),
    });
    if (backend === 'ckks') {
      try {
        await fed.waitCollectiveKey(o.timeoutS * 1000);
      } catch (e) {
        const why = `${(e as Error).message.replace(/; see logs in .*/, '')}${lastWarning(fed, 'aggregator.log') ? ` | aggregator: ${lastWarning(fed, 'aggregator.log')}` : ''}`;
        await fed.stop();
        throw new Error(`CKKS key ceremony: ${why}`);
      }
    }
    return { fed, dir };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function stopFederation(r: Running | undefined): Promise<void> {
  if (!r) return;
  await r.fed.stop();
  // BLINDSUM_SCALE_KEEP=1 keeps the federation's directory (logs: each round's duration and deadline).
  if (process.env.BLINDSUM_SCALE_KEEP === '1') console.log(`kept ${r.dir}`);
  else rmSync(r.dir, { recursive: true, force: true });
}

/** One query on a running federation; throws only on a bench bug (a failed query is returned). */
async function runOnce(r: Running, query: ReturnType<typeof marginalOfLength>['query'], backend: Backend, key: AnalystCkksKey | undefined, o: ScaleOptions): Promise<{
  outcome?: QueryOutcome; error: string; wallMs: number; aggKb?: number; partyKb: (number | undefined)[]; entryBytes?: number; fileBytes: number; resetOk: boolean;
}> {
  const { fed } = r;
  const pids = [fed.aggregatorPid, ...fed.parties.map((p) => p.child?.pid)];
  let resetOk = true;
  for (const pid of pids) resetOk = resetPeakRss(pid) && resetOk;
  const files0 = bytesUnder(fed.aggregatorDataDir, TRANSCRIPT_FILES);
  const client = fed.client();
  const t0 = performance.now();
  let outcome: QueryOutcome | undefined;
  let error = '';
  try {
    outcome = await withTimeout(client.run(query, { backend, deadlineMs: o.timeoutS * 1000, ...(key ? { ckksKey: key } : {}) }), o.timeoutS * 1000, 'query');
    if (outcome.status !== 'done') {
      const refusals = outcome.refusals.map((x) => `${x.partyId}: ${x.reason}`).slice(0, 2).join('; ');
      error = short(`${outcome.status}: ${outcome.error}${refusals ? ` (refusals: ${refusals})` : ''}`);
    }
  } catch (e) {
    error = short(`${e instanceof Timeout ? 'timeout' : 'error'}: ${(e as Error).message}`);
  } finally {
    client.close();
  }
  const wallMs = outcome?.elapsedMs ?? performance.now() - t0;
  const aggKb = procStatusKb(fed.aggregatorPid, 'VmHWM');
  const partyKb = fed.parties.map((p) => procStatusKb(p.child?.pid, 'VmHWM'));
  if (error) {
    // The aggregator's first warning about this session says why parties left (timed out in a
    // round, disconnected, refused); its last one is usually the session failure already quoted.
    const first = outcome ? fed.logTail('aggregator.log', 2000).split('\n').find((l) => l.includes(outcome!.queryId) && /"level":"(warn|error)"/.test(l) && !/session failed/.test(l)) : undefined;
    const w = first ? short(first, 240) : lastWarning(fed, 'aggregator.log');
    if (w) error += ` | aggregator log: ${w}`;
    const p = fed.parties.map((x) => lastWarning(fed, `${x.id}.log`, /"level":"(warn|error)"|disconnect|refus|abort/i)).find((x) => x);
    if (p) error += ` | a party's log: ${p}`;
  }
  const entries = outcome ? transcriptEntryBytes(fed.aggregatorDataDir, outcome.queryId) : new Map<string, number>();
  const entryBytes = entries.size ? [...entries.values()].reduce((a, b) => a + b, 0) : undefined;
  return {
    ...(outcome ? { outcome } : {}), error, wallMs, ...(aggKb !== undefined ? { aggKb } : {}), partyKb,
    ...(entryBytes !== undefined ? { entryBytes } : {}), fileBytes: bytesUnder(fed.aggregatorDataDir, TRANSCRIPT_FILES) - files0, resetOk,
  };
}

const HEADER = ['n', 'L', 'backend', 'status', 'wall s', 'agg peak MB', 'party peak max/med MB', 'transcript entries', 'transcript files Δ', 'sums = central', 'goal', 'load', 'error'];

function goalText(row: ScaleRow): string {
  const memOk = (row.aggregatorKb === undefined || row.aggregatorKb / 1024 <= GOALS.aggregatorMb) && (row.partyMaxKb === undefined || row.partyMaxKb / 1024 <= GOALS.partyMb);
  const mem = row.aggregatorKb === undefined ? 'mem —' : `mem ${memOk ? 'ok' : 'over'}`;
  if (row.n !== GOALS.n || row.L !== GOALS.L) return mem;
  const w = median(row.wallMs);
  const limit = GOALS.wallS[row.backend];
  return `${row.status === 'done' && w / 1000 < limit ? 'time ok' : 'time over'} (< ${limit} s), ${mem}`;
}

export function rowCells(row: ScaleRow): string[] {
  const w = median(row.wallMs);
  return [
    String(row.n), exp10(row.L), row.backend, row.status, Number.isFinite(w) ? `${(w / 1000).toFixed(1)}${row.wallMs.length > 1 ? ` (med of ${row.wallMs.length})` : ''}` : '—',
    mb(row.aggregatorKb), `${mb(row.partyMaxKb)} / ${mb(row.partyMedianKb)}${row.partiesMeasured < row.n && row.partyMaxKb !== undefined ? ` (${row.partiesMeasured} alive)` : ''}`,
    bytesText(row.transcriptEntryBytes), bytesText(row.transcriptFileBytes), row.central, goalText(row), row.load, row.error,
  ];
}

export async function benchScale(o: ScaleOptions = scaleOptions()): Promise<ScaleRow[]> {
  console.log(`\nend-to-end scale — LocalFederation: aggregator + n party processes (real CLI, loopback gRPC), exact marginal query of L cells; Node ${process.versions.node}, ${cpus().length} cores, load average ${load()}`);
  console.log(`n ∈ {${o.ns.join(', ')}}, L ∈ {${o.Ls.map(exp10).join(', ')}}, backends ${o.backends.join(', ')}; ${o.repeats} repeat(s), timeout ${o.timeoutS} s per query/start, ${o.rows} rows per party, round timeout ${o.roundTimeoutMs} ms`);
  console.log(`goals (30 × 10^6): wall < ${GOALS.wallS.secagg} s secagg, < ${GOALS.wallS.ckks} s CKKS; aggregator peak RSS ≤ ${GOALS.aggregatorMb} MB, each party ≤ ${GOALS.partyMb} MB`);
  console.log('wall = submit → result at the analyst (CKKS: incl. its decryption); peak = VmHWM reset before the query (clear_refs); transcript entries = bytes of the session\'s transcript entries; files Δ = growth of transcript.sqlite(+wal) and blob files\n');
  const rows: ScaleRow[] = [];
  console.log(HEADER.join(' | '));
  let key: AnalystCkksKey | undefined;
  for (const n of o.ns) {
    const csvs = partyCsvs(n, o.rows);
    for (const backend of o.backends) {
      if (backend === 'ckks') key ??= await generateAnalystKey();
      let running: Running | undefined;
      let startError = '';
      try {
        for (const L of o.Ls) {
          const { query, length } = marginalOfLength(L);
          const row: ScaleRow = {
            n, L: length, backend, status: 'done', wallMs: [], aggregatorKb: undefined, partyMaxKb: undefined, partyMedianKb: undefined, partiesMeasured: 0,
            transcriptEntryBytes: undefined, transcriptFileBytes: undefined, central: '—', error: '', load: '',
          };
          let expected: bigint[] | undefined;
          for (let rep = 0; rep < o.repeats && row.status === 'done'; rep++) {
            if (!running && !startError) {
              try {
                running = await startFederation(n, backend, csvs, o);
              } catch (e) {
                startError = short(`start: ${(e as Error).message.replace(/; see logs in .*/, '')}`, 300);
              }
            }
            if (!running) {
              row.status = 'not run';
              row.error = startError;
              break;
            }
            const res = await runOnce(running, query, backend, backend === 'ckks' ? key : undefined, o);
            row.load = load().split(' ')[0]!;
            row.aggregatorKb = Math.max(row.aggregatorKb ?? 0, res.aggKb ?? 0) || undefined;
            const alive = res.partyKb.filter((x): x is number => x !== undefined);
            row.partiesMeasured = alive.length;
            if (alive.length) {
              row.partyMaxKb = Math.max(row.partyMaxKb ?? 0, ...alive);
              row.partyMedianKb = median(alive);
            }
            if (res.entryBytes !== undefined) row.transcriptEntryBytes = res.entryBytes;
            row.transcriptFileBytes = res.fileBytes;
            if (!res.resetOk) row.error = 'peak RSS could not be reset (clear_refs): peaks since process start';
            if (res.error || !res.outcome) {
              row.status = res.outcome?.status ?? 'failed';
              if (row.status === 'done') row.status = 'failed';
              row.error = res.error;
              row.wallMs.push(res.wallMs);
              await stopFederation(running);
              running = undefined;
              break;
            }
            row.wallMs.push(res.wallMs);
            expected ??= centralSums(query, csvs, n);
            const same = sameSums(res.outcome.exactSums, expected);
            if (!same) row.central = 'NO';
            else if (row.central === '—') row.central = 'yes';
          }
          rows.push(row);
          console.log(rowCells(row).join(' | '));
        }
      } finally {
        await stopFederation(running);
      }
    }
  }
  console.log(`\nscale table (sorted), load average now ${load()}:`);
  const sorted = [...rows].sort((a, b) => a.n - b.n || a.L - b.L || a.backend.localeCompare(b.backend));
  printTable([HEADER, ...sorted.map(rowCells)]);
  return rows;
}

if (import.meta.main) await benchScale(scaleOptions(process.argv.slice(2)));
