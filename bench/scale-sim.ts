/**
 * Simulated scale beyond one machine (issue 14, item 8): many parties in worker threads of ONE
 * process, running the same protocol code as the real deployment — the real aggregator
 * (createAggregator) in its own worker thread and the real party nodes (createPartyNode) in W
 * worker threads, over loopback gRPC, with the analyst's client in the main thread. It measures,
 * per query, how each cost grows with n and L:
 *   - wall time submit → result, and the wall time of each protocol round (from the progress
 *     events' aggregator timestamps);
 *   - CPU time of the aggregator thread and of a party (its worker threads' CPU / parties in
 *     them), per query and per round (÷ the number of rounds);
 *   - bytes a party uploads (its signed transcript envelopes) and that the aggregator logs;
 *   - memory: peak growth of the aggregator isolate (heap + external) and per party (the party
 *     workers' peak growth / parties), and the process's peak RSS;
 * then fits log cost = a + b·log n (at each L) and log cost = a + b·log L (at each n) by least
 * squares, and projects the n ≤ 30 fit to 100 and 300 parties beside the measured values.
 *
 * Limits (say so when quoting numbers): all threads share this machine's cores, so wall times
 * include the other parties' work (a real party has its own machine: its CPU time is the better
 * per-party figure); parties of one worker thread share one HTTP/2 connection (grpc-js subchannel
 * pool) and one event loop; memory per party is a sampled, averaged isolate figure, not an RSS.
 *
 * Run: npm run bench -- sim [--n 3,10,30,100,300] [--L 1e2,1e3,1e4] [--backends secagg]
 *        [--workers 4] [--repeats 1] [--max-nl 3e6] [--timeout-s 600] [--rows 50] [--round-timeout-ms 120000]
 * or BLINDSUM_SIM_N, _L, _BACKENDS, _WORKERS, _REPEATS, _MAX_NL, _TIMEOUT_S, _ROWS, _ROUND_TIMEOUT_MS.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { AnalystClient, type QueryOutcome } from '../client/analyst.ts';
import { generateAnalystKey, type AnalystCkksKey } from '../client/ckks-analyst.ts';
import { LOCAL_POLICY } from '../cli/federation.ts';
import { toHex } from '../crypto/bytes.ts';
import type { QueryEvent } from '../gen/blindsum/v1/blindsum.ts';
import type { AggregatorConfigInput } from '../services/aggregator/config.ts';
import { AGGREGATOR_KEY_FILE } from '../services/aggregator/transcript-log.ts';
import { signAnalystRoster, writeAnalystRosterFile } from '../services/common/analysts.ts';
import { writeNewIdentityFile, type IdentityFile } from '../services/common/keys.ts';
import type { PartyConfigInput } from '../services/party/config.ts';
import {
  bytesText, bytesUnder, exp10, load, logLogFit, marginalOfLength, median, numberList, partyCsvs, PBC_SCHEMA_PATH, printTable, procStatusKb, resetPeakRss,
  TRANSCRIPT_FILES, transcriptEntryBytes,
} from './scale-common.ts';
import type { SimReply, SimRequest, SimStats, SimWorkerData } from './scale-sim-worker.ts';

type Backend = 'secagg' | 'ckks';

export interface SimOptions {
  ns: number[];
  Ls: number[];
  backends: Backend[];
  workers: number;
  repeats: number;
  /** Skip (n, L) with n·L above this. */
  maxNL: number;
  timeoutS: number;
  rows: number;
  roundTimeoutMs: number;
}

export function simOptions(argv: string[] = [], env: NodeJS.ProcessEnv = process.env): SimOptions {
  const { values } = parseArgs({
    args: argv, strict: false,
    options: {
      n: { type: 'string' }, L: { type: 'string' }, backends: { type: 'string' }, workers: { type: 'string' }, repeats: { type: 'string' }, 'max-nl': { type: 'string' },
      'timeout-s': { type: 'string' }, rows: { type: 'string' }, 'round-timeout-ms': { type: 'string' },
    },
  });
  const s = (k: string, e: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : env[e]);
  const backends = (s('backends', 'BLINDSUM_SIM_BACKENDS') ?? 'secagg').split(',').map((b) => b.trim());
  for (const b of backends) if (b !== 'secagg' && b !== 'ckks') throw new RangeError(`backends: "secagg" and/or "ckks", got ${JSON.stringify(b)}`);
  return {
    ns: numberList(s('n', 'BLINDSUM_SIM_N'), [3, 10, 30, 100, 300]),
    Ls: numberList(s('L', 'BLINDSUM_SIM_L'), [1e2, 1e3, 1e4]),
    backends: backends as Backend[],
    workers: numberList(s('workers', 'BLINDSUM_SIM_WORKERS'), [4])[0]!,
    repeats: numberList(s('repeats', 'BLINDSUM_SIM_REPEATS'), [1])[0]!,
    maxNL: numberList(s('max-nl', 'BLINDSUM_SIM_MAX_NL'), [3e6])[0]!,
    timeoutS: numberList(s('timeout-s', 'BLINDSUM_SIM_TIMEOUT_S'), [600])[0]!,
    rows: numberList(s('rows', 'BLINDSUM_SIM_ROWS'), [50])[0]!,
    roundTimeoutMs: numberList(s('round-timeout-ms', 'BLINDSUM_SIM_ROUND_TIMEOUT_MS'), [120_000])[0]!,
  };
}

/** The files of a federation (keys, roster, signed analyst roster, data, policies), as LocalFederation writes them. */
export function writeFederation(dir: string, csvs: string[], ckks: boolean, roundTimeoutMs: number): { aggregator: AggregatorConfigInput; parties: PartyConfigInput[]; analyst: IdentityFile } {
  mkdirSync(dir, { recursive: true });
  const n = csvs.length;
  const ids = csvs.map((_, i) => `hospital-${i + 1}`);
  const entries = ids.map((id) => ({ id, publicKey: toHex(writeNewIdentityFile(join(dir, `${id}.key`), id).identity.publicKey) }));
  const dataDir = join(dir, 'aggregator');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const agg = writeNewIdentityFile(join(dataDir, AGGREGATOR_KEY_FILE), 'sim-aggregator');
  const operator = writeNewIdentityFile(join(dir, 'operator.key'), 'sim-operator');
  const rosterPath = join(dir, 'roster.json');
  writeFileSync(rosterPath, JSON.stringify({
    federation: 'sim', threshold: Math.floor(n / 2) + 1, collusion: 0, parties: entries,
    aggregator: { id: agg.id, publicKey: toHex(agg.identity.publicKey) }, operator: { id: operator.id, publicKey: toHex(operator.identity.publicKey) },
  }));
  const analyst = writeNewIdentityFile(join(dir, 'analyst.key'), 'analyst');
  const analystsPath = join(dir, 'analysts.json');
  writeAnalystRosterFile(analystsPath, signAnalystRoster(operator.identity.secretKey, {
    federation: 'sim', version: 1, analysts: [{ id: 'analyst', role: 'analyst', budgetRho: 10, publicKey: toHex(analyst.identity.publicKey) }],
  }));
  const parties = ids.map((id, i) => {
    const dataPath = join(dir, `${id}.csv`);
    writeFileSync(dataPath, csvs[i]!);
    const policyPath = join(dir, `${id}.policy.json`);
    writeFileSync(policyPath, JSON.stringify({ ...LOCAL_POLICY, ...(ckks ? { allowedBackends: ['secagg', 'ckks'] } : {}) }));
    return { aggregator: 'PLACEHOLDER', keyPath: join(dir, `${id}.key`), rosterPath, schemaPath: PBC_SCHEMA_PATH, dataPath, policyPath, quiet: true };
  });
  return {
    aggregator: {
      listen: '127.0.0.1:0', rosterPath, schemaPath: PBC_SCHEMA_PATH, dataDir, roundTimeoutMs, quiet: true, analystsPath, allowExact: true, ckks,
      maxRunningPerAnalyst: 8, maxSubmitsPerMinute: 600,
    },
    parties, analyst,
  };
}

/** A worker thread with request/reply over its port (replies come in request order). */
class SimThread {
  readonly worker: Worker;
  readonly ready: Promise<SimReply>;
  readonly #waiting: ((r: SimReply) => void)[] = [];
  #failed: Error | undefined;

  constructor(data: SimWorkerData) {
    this.worker = new Worker(new URL('./scale-sim-worker.ts', import.meta.url), { workerData: data });
    this.ready = new Promise((resolve, reject) => {
      this.worker.once('message', (m: SimReply) => (m.type === 'error' ? reject(new Error(m.message)) : resolve(m)));
      this.worker.once('error', (e) => reject(e));
      this.worker.once('exit', (code) => reject(new Error(`worker exited with code ${code} before it was ready`)));
    });
    this.ready.then(() => {
      this.worker.on('message', (m: SimReply) => this.#waiting.shift()?.(m));
    }, (e: Error) => {
      this.#failed = e;
    });
  }

  request(req: SimRequest, timeoutMs = 60_000): Promise<SimReply> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      let done = false;
      const t = setTimeout(() => {
        done = true;
        reject(new Error(`worker did not answer ${req.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.push((r) => {
        clearTimeout(t);
        if (!done) resolve(r);
      });
      this.worker.postMessage(req);
    });
  }

  async stats(): Promise<SimStats> {
    const r = await this.request({ type: 'stats' });
    if (r.type !== 'stats') throw new Error(`worker answered ${r.type} to stats`);
    return r;
  }

  async close(): Promise<void> {
    try {
      await this.request({ type: 'close' }, 30_000);
    } catch {
      /* terminate below */
    }
    await this.worker.terminate();
  }
}

export interface SimRow {
  n: number;
  L: number;
  backend: Backend;
  status: string;
  error: string;
  wallMs: number;
  rounds: { stage: string; ms: number }[];
  /** CPU of the aggregator thread and of a party (party threads / n) between consecutive progress events (≈ per round: sampled when each event reaches the analyst). */
  roundCpu: { aggMs: number; partyMs: number }[];
  aggCpuMs: number;
  partyCpuMs: number;
  partyUploadBytes: number;
  aggregatorLogBytes: number;
  transcriptFileBytes: number;
  aggPeakMb: number;
  partyPeakMb: number;
  processPeakMb: number;
}

const NOT_ROUNDS = new Set(['submitted', 'running', 'queued', 'done', 'failed', 'holding']);

function roundsFrom(events: QueryEvent[]): { stage: string; ms: number }[] {
  const out: { stage: string; ms: number }[] = [];
  let prev: number | undefined;
  for (const ev of events) {
    const at = Number(ev.atMs);
    if (prev !== undefined && !NOT_ROUNDS.has(ev.stage)) out.push({ stage: ev.stage, ms: at - prev });
    prev = at;
  }
  return out;
}

interface Federation {
  dir: string;
  aggregator: SimThread;
  parties: SimThread[];
  client: AnalystClient;
  dataDir: string;
  partyIds: Set<string>;
}

async function startSim(n: number, backend: Backend, o: SimOptions): Promise<Federation> {
  const dir = mkdtempSync(join(tmpdir(), `blindsum-sim-${n}-`));
  const files = writeFederation(dir, partyCsvs(n, o.rows), backend === 'ckks', o.roundTimeoutMs);
  const aggregator = new SimThread({ role: 'aggregator', input: files.aggregator });
  const threads: SimThread[] = [aggregator];
  try {
    const ready = await aggregator.ready;
    const address = `127.0.0.1:${ready.type === 'ready' ? ready.port : 0}`;
    const w = Math.max(1, Math.min(o.workers, n));
    const groups: PartyConfigInput[][] = Array.from({ length: w }, () => []);
    files.parties.forEach((p, i) => groups[i % w]!.push({ ...p, aggregator: address }));
    const parties = groups.map((inputs) => new SimThread({ role: 'parties', inputs }));
    threads.push(...parties);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(parties.map((p) => p.ready)),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`parties did not all connect within ${o.timeoutS} s`)), o.timeoutS * 1000);
      }),
    ]).finally(() => clearTimeout(timer));
    const client = new AnalystClient(address, { identity: files.analyst });
    if (backend === 'ckks') {
      const deadline = Date.now() + o.timeoutS * 1000;
      for (;;) {
        const k = await client.getCollectiveKey();
        if (k.status === 'ready') break;
        if (Date.now() > deadline) {
          client.close();
          throw new Error(`CKKS key ceremony: no collective key within ${o.timeoutS} s (${k.status}: ${k.message})`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    return { dir, aggregator, parties, client, dataDir: files.aggregator.dataDir, partyIds: new Set(files.parties.map((_, i) => `hospital-${i + 1}`)) };
  } catch (e) {
    await Promise.all(threads.map((t) => t.close()));
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function stopSim(f: Federation | undefined): Promise<void> {
  if (!f) return;
  f.client.close();
  await Promise.all([f.aggregator, ...f.parties].map((t) => t.close()));
  rmSync(f.dir, { recursive: true, force: true });
}

async function runSim(f: Federation, n: number, L: number, backend: Backend, key: AnalystCkksKey | undefined, o: SimOptions): Promise<SimRow> {
  const { query, length } = marginalOfLength(L);
  const threads = [f.aggregator, ...f.parties];
  await Promise.all(threads.map((t) => t.request({ type: 'resetPeak' })));
  resetPeakRss(process.pid);
  const before = await Promise.all(threads.map((t) => t.stats()));
  const files0 = bytesUnder(f.dataDir, TRANSCRIPT_FILES);
  const events: QueryEvent[] = [];
  // CPU snapshots of every thread at each round's progress event (the threads answer once their loop is free).
  const snapshots: Promise<SimStats[]>[] = [Promise.resolve(before)];
  const onEvent = (ev: QueryEvent): void => {
    events.push(ev);
    if (!NOT_ROUNDS.has(ev.stage)) snapshots.push(Promise.all(threads.map((t) => t.stats())));
  };
  let outcome: QueryOutcome | undefined;
  let error = '';
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    outcome = await Promise.race([
      f.client.run(query, { backend, deadlineMs: o.timeoutS * 1000, onEvent, ...(key ? { ckksKey: key } : {}) }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timeout: no result within ${o.timeoutS} s`)), o.timeoutS * 1000);
      }),
    ]);
    if (outcome.status !== 'done') error = `${outcome.status}: ${outcome.error}`.slice(0, 240);
  } catch (e) {
    error = (e as Error).message.slice(0, 240);
  } finally {
    clearTimeout(timer);
  }
  const wallMs = outcome?.elapsedMs ?? performance.now() - t0;
  const after = await Promise.all(threads.map((t) => t.stats()));
  if (error) {
    const why = after.map((a) => a.lastWarning).find((w) => w);
    if (why) error = `${error} | ${why}`.slice(0, 400);
  }
  const snaps = await Promise.all(snapshots);
  const roundCpu = snaps.slice(1).map((snap, k) => {
    const prev = snaps[k]!;
    let party = 0;
    for (let i = 1; i < threads.length; i++) party += snap[i]!.cpuUs - prev[i]!.cpuUs;
    return { aggMs: (snap[0]!.cpuUs - prev[0]!.cpuUs) / 1000, partyMs: party / 1000 / n };
  });
  const cpuMs = (i: number): number => (after[i]!.cpuUs - before[i]!.cpuUs) / 1000;
  const peakMb = (i: number): number => Math.max(0, after[i]!.peakBytes - before[i]!.memBytes) / 2 ** 20;
  let partyCpu = 0;
  let partyPeak = 0;
  for (let i = 1; i < threads.length; i++) {
    partyCpu += cpuMs(i);
    partyPeak += peakMb(i);
  }
  const entries = outcome ? transcriptEntryBytes(f.dataDir, outcome.queryId) : new Map<string, number>();
  let upload = 0;
  let aggLog = 0;
  for (const [sender, b] of entries) {
    if (f.partyIds.has(sender)) upload += b;
    else aggLog += b;
  }
  return {
    n, L: length, backend, status: outcome?.status ?? 'failed', error, wallMs, rounds: roundsFrom(events), roundCpu, aggCpuMs: cpuMs(0), partyCpuMs: partyCpu / n,
    partyUploadBytes: upload / n, aggregatorLogBytes: aggLog, transcriptFileBytes: bytesUnder(f.dataDir, TRANSCRIPT_FILES) - files0,
    aggPeakMb: peakMb(0), partyPeakMb: partyPeak / n, processPeakMb: (procStatusKb(process.pid, 'VmHWM') ?? 0) / 1024,
  };
}

/** The costs fitted and tabulated, with how to read each off a row. */
const COSTS: { name: string; get: (r: SimRow) => number; unit: (x: number) => string; noProjection?: true }[] = [
  { name: 'wall submit → result', get: (r) => r.wallMs, unit: (x) => `${x.toFixed(0)} ms` },
  // What the wall time would be with every party on its own machine: per round, the aggregator's
  // CPU plus one party's (no network latency, no overlap between the two): an estimate.
  { name: 'est. wall, a machine per party', get: (r) => r.roundCpu.reduce((a, x) => a + x.aggMs + x.partyMs, 0), unit: (x) => `${x.toFixed(0)} ms` },
  { name: 'round wall (mean)', get: (r) => (r.rounds.length ? r.rounds.reduce((a, b) => a + b.ms, 0) / r.rounds.length : NaN), unit: (x) => `${x.toFixed(0)} ms` },
  { name: 'aggregator CPU, max round', get: (r) => Math.max(...r.roundCpu.map((x) => x.aggMs)), unit: (x) => `${x.toFixed(1)} ms` },
  { name: 'party CPU, max round', get: (r) => Math.max(...r.roundCpu.map((x) => x.partyMs)), unit: (x) => `${x.toFixed(1)} ms` },
  { name: 'aggregator CPU / round', get: (r) => r.aggCpuMs / Math.max(1, r.rounds.length), unit: (x) => `${x.toFixed(1)} ms` },
  { name: 'party CPU / round', get: (r) => r.partyCpuMs / Math.max(1, r.rounds.length), unit: (x) => `${x.toFixed(1)} ms` },
  { name: 'party upload (signed envelopes)', get: (r) => r.partyUploadBytes, unit: (x) => bytesText(Math.round(x)) },
  { name: 'aggregator transcript entries', get: (r) => r.aggregatorLogBytes, unit: (x) => bytesText(Math.round(x)) },
  { name: 'aggregator memory peak growth', get: (r) => r.aggPeakMb, unit: (x) => `${x.toFixed(1)} MB`, noProjection: true },
  { name: 'party memory peak growth', get: (r) => r.partyPeakMb, unit: (x) => `${x.toFixed(2)} MB`, noProjection: true },
];

function printFits(rows: SimRow[]): void {
  const ok = rows.filter((r) => r.status === 'done');
  const backends = [...new Set(ok.map((r) => r.backend))];
  for (const backend of backends) {
    const rs = ok.filter((r) => r.backend === backend);
    const Ls = [...new Set(rs.map((r) => r.L))].sort((a, b) => a - b);
    const ns = [...new Set(rs.map((r) => r.n))].sort((a, b) => a - b);
    console.log(`\n${backend}: fitted exponents b of cost ∝ n^b (at each L) and ∝ L^b (at each n), least squares on log-log; projection to 100 and 300 parties from the fit over n ≤ 30, beside the measured value`);
    const header = ['cost', ...Ls.map((L) => `b(n) @L=${exp10(L)}`), ...ns.map((n) => `b(L) @n=${n}`), ...[100, 300].flatMap((n) => [`n=${n} proj.`, `n=${n} meas.`])];
    const table: string[][] = [header];
    const projL = Ls[0];
    for (const c of COSTS) {
      const cells = [c.name];
      for (const L of Ls) {
        const fit = logLogFit(rs.filter((r) => r.L === L).map((r) => ({ x: r.n, y: c.get(r) })));
        cells.push(fit ? fit.slope.toFixed(2) : '—');
      }
      for (const n of ns) {
        const fit = logLogFit(rs.filter((r) => r.n === n).map((r) => ({ x: r.L, y: c.get(r) })));
        cells.push(fit ? fit.slope.toFixed(2) : '—');
      }
      const small = rs.filter((r) => r.L === projL && r.n <= 30);
      const fit = logLogFit(small.map((r) => ({ x: r.n, y: c.get(r) })));
      for (const n of [100, 300]) {
        cells.push(fit && !c.noProjection ? c.unit(fit.at(n)) : '—');
        const m = rs.filter((r) => r.L === projL && r.n === n).map(c.get);
        cells.push(m.length ? c.unit(median(m)) : '—');
      }
      table.push(cells);
    }
    printTable(table);
    if (projL !== undefined) console.log(`(projections at L = ${exp10(projL)}, the smallest L run; none for memory: sampled isolate peaks at small L follow garbage collection, not n)`);
  }
}

const HEADER = ['n', 'L', 'backend', 'status', 'wall ms', 'est. wall ms, machine per party', 'rounds (ms each)', 'agg CPU ms', 'agg CPU/round ms', 'party CPU ms', 'party CPU/round ms', 'party upload', 'agg entries', 'files Δ', 'agg mem MB', 'party mem MB', 'proc peak MB', 'load', 'error'];

function cells(r: SimRow, loadNow: string): string[] {
  return [
    String(r.n), exp10(r.L), r.backend, r.status, r.wallMs.toFixed(0), r.roundCpu.reduce((a, x) => a + x.aggMs + x.partyMs, 0).toFixed(0), r.rounds.map((x) => x.ms).join('/'), r.aggCpuMs.toFixed(0), r.roundCpu.map((x) => x.aggMs.toFixed(0)).join('/'),
    r.partyCpuMs.toFixed(1), r.roundCpu.map((x) => x.partyMs.toFixed(1)).join('/'),
    bytesText(Math.round(r.partyUploadBytes)), bytesText(r.aggregatorLogBytes), bytesText(r.transcriptFileBytes), r.aggPeakMb.toFixed(1), r.partyPeakMb.toFixed(2),
    r.processPeakMb.toFixed(0), loadNow, r.error,
  ];
}

export async function benchSimulatedScale(o: SimOptions = simOptions()): Promise<SimRow[]> {
  console.log(`\nsimulated scale — one process: the real aggregator in a worker thread, n real party nodes in ${o.workers} worker threads, loopback gRPC; Node ${process.versions.node}, ${cpus().length} cores, load average ${load()}`);
  console.log(`n ∈ {${o.ns.join(', ')}}, L ∈ {${o.Ls.map(exp10).join(', ')}} (n·L ≤ ${o.maxNL}), backends ${o.backends.join(', ')}; exact marginal query, ${o.rows} rows per party, round timeout ${o.roundTimeoutMs} ms, ${o.repeats} repeat(s)`);
  console.log('rounds = wall time of each protocol round (aggregator progress timestamps); CPU = thread CPU time per query (party: its workers\' CPU / n); upload = a party\'s signed envelopes in the transcript; mem = peak growth of heap + external memory of the isolate(s) (party: / n)\n');
  console.log(HEADER.join(' | '));
  const rows: SimRow[] = [];
  let key: AnalystCkksKey | undefined;
  for (const backend of o.backends) {
    if (backend === 'ckks') key ??= await generateAnalystKey();
    for (const n of o.ns) {
      const Ls = o.Ls.filter((L) => n * L <= o.maxNL);
      if (Ls.length === 0) continue;
      let f: Federation | undefined;
      try {
        f = await startSim(n, backend, o);
      } catch (e) {
        for (const L of Ls) {
          const r: SimRow = {
            n, L, backend, status: 'not run', error: `start: ${(e as Error).message}`.slice(0, 240), wallMs: NaN, rounds: [], roundCpu: [], aggCpuMs: NaN, partyCpuMs: NaN,
            partyUploadBytes: NaN, aggregatorLogBytes: NaN, transcriptFileBytes: NaN, aggPeakMb: NaN, partyPeakMb: NaN, processPeakMb: NaN,
          };
          rows.push(r);
          console.log(cells(r, load().split(' ')[0]!).join(' | '));
        }
        continue;
      }
      try {
        // One unmeasured query first: JIT warm-up and first-use setup (SEAL contexts, SQLite statements).
        await runSim(f, n, Math.min(100, ...Ls), backend, backend === 'ckks' ? key : undefined, o);
        for (const L of Ls) {
          for (let rep = 0; rep < o.repeats; rep++) {
            const r = await runSim(f, n, L, backend, backend === 'ckks' ? key : undefined, o);
            rows.push(r);
            console.log(cells(r, load().split(' ')[0]!).join(' | '));
          }
        }
      } finally {
        await stopSim(f);
      }
    }
  }
  printFits(rows);
  return rows;
}

if (import.meta.main) await benchSimulatedScale(simOptions(process.argv.slice(2)));
