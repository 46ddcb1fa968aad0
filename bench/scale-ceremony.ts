/**
 * The CKKS key ceremony (and optionally one secure-aggregation query) at n parties, every party a
 * process on this host (LocalFederation: the real CLI over loopback gRPC), issue 14 item 7.
 * Prints the ceremony's wall time, each round's time and deadline as the aggregator logged them
 * ("round closed"), the per-operation costs the deadlines were sized from, and the load average.
 *
 *   node bench/scale-ceremony.ts [--n 10,30] [--secagg-length 100000] [--no-ckks] [--keep]
 *   BLINDSUM_BENCH_SCALE_N=10,30 BLINDSUM_BENCH_SECAGG_LENGTH=100000 npm run bench
 *   (npm run bench runs it at n = 10 only unless BLINDSUM_BENCH_SCALE_N is set; 0 skips it)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LocalFederation } from '../cli/federation.ts';
import { measureWorkCosts } from '../services/common/work-costs.ts';
import { splitCsvText, type Query } from '../stats/index.ts';

const EXAMPLES = fileURLToPath(new URL('../examples/pbc/', import.meta.url));

interface RoundLine {
  session?: string;
  stage?: string;
  ms?: number;
  deadlineMs?: number;
  msg?: string;
  t?: string;
}

function roundLines(dir: string): RoundLine[] {
  let text = '';
  try {
    text = readFileSync(join(dir, 'aggregator.log'), 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as RoundLine);
}

const lin = (a: number, b: number, k: number): number[] => Array.from({ length: k + 1 }, (_, i) => a + ((b - a) * i) / k);

/**
 * A query of ≈ `length` statistics with a small request: the marginal table time × age (each with
 * a "(missing)" level), time in length/100 − 1 bins and age in 99 (100 000 statistics for 10^5).
 */
export function largeQuery(length: number): Query {
  const timeBins = Math.max(1, Math.round(length / 100) - 1);
  return { kind: 'marginal', columns: ['time', 'age'], edges: [lin(0, 10_000, timeBins), lin(18, 100, 99)], filter: [] };
}

const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ');

export interface ScaleCeremonyResult {
  n: number;
  ceremonyMs: number;
  attempts: number;
  rounds: { stage: string; ms: number; deadlineMs: number }[];
  secaggMs?: number;
  secaggRounds?: { stage: string; ms: number; deadlineMs: number }[];
}

/** One federation of n party processes: time to the collective key, then optionally one secagg query of ≈ `secaggLength` statistics (largeQuery). */
export async function benchScaleCeremony(n: number, o: { secaggLength?: number; keep?: boolean; ckks?: boolean } = {}): Promise<ScaleCeremonyResult> {
  const dir = mkdtempSync(join(tmpdir(), `blindsum-bench-scale${n}-`));
  const parts = splitCsvText(readFileSync(join(EXAMPLES, 'pbc.csv'), 'utf8'), n, 'bench');
  const t0 = performance.now();
  const fed = await LocalFederation.start({ dir, schemaPath: join(EXAMPLES, 'schema.json'), partyData: parts, ckks: o.ckks !== false, minCohort: 1 });
  console.log(`n = ${n}: ${n + 1} processes up in ${((performance.now() - t0) / 1000).toFixed(1)} s (load average ${load()})`);
  try {
    const t1 = performance.now();
    if (o.ckks !== false) await fed.waitCollectiveKey(1_800_000);
    const ceremonyMs = performance.now() - t1;
    const lines = roundLines(dir);
    const started = lines.filter((l) => l.msg === 'CKKS key ceremony started');
    const ceremonyId = (lines.findLast((l) => l.msg === 'collective CKKS public key ready') as { ceremony?: string } | undefined)?.ceremony;
    const rounds = lines.filter((l) => l.msg === 'round closed' && l.session === ceremonyId).map((l) => ({ stage: l.stage!, ms: l.ms!, deadlineMs: l.deadlineMs! }));
    const result: ScaleCeremonyResult = { n, ceremonyMs, attempts: started.length, rounds };
    if (o.ckks !== false) console.log(`n = ${n}: CKKS key ceremony ${(ceremonyMs / 1000).toFixed(1)} s, ${started.length} attempt(s), threshold ${Math.floor(n / 2) + 1} (load average ${load()})`);
    for (const r of rounds) console.log(`  ${r.stage.padEnd(12)} ${(r.ms / 1000).toFixed(2).padStart(7)} s   deadline ${(r.deadlineMs / 1000).toFixed(0).padStart(5)} s`);
    if (o.secaggLength) {
      const L = o.secaggLength;
      const q = largeQuery(L);
      const client = fed.client();
      try {
        const out = await client.run(q, { backend: 'secagg' });
        if (out.status !== 'done') throw new Error(`secagg query of ${L} statistics at n = ${n}: ${out.error}`);
        const secaggRounds = roundLines(dir).filter((l) => l.msg === 'round closed' && l.session === out.queryId).map((l) => ({ stage: l.stage!, ms: l.ms!, deadlineMs: l.deadlineMs! }));
        result.secaggMs = out.elapsedMs;
        result.secaggRounds = secaggRounds;
        console.log(`n = ${n}: secagg marginal time × age of ${L} statistics ${(out.elapsedMs / 1000).toFixed(1)} s (load average ${load()})`);
        for (const r of secaggRounds) console.log(`  ${r.stage.padEnd(22)} ${(r.ms / 1000).toFixed(2).padStart(7)} s   deadline ${(r.deadlineMs / 1000).toFixed(0).padStart(5)} s`);
      } finally {
        client.close();
      }
    }
    return result;
  } catch (e) {
    console.log(`n = ${n}: FAILED: ${(e as Error).message.slice(0, 600)}\n--- aggregator.log (tail) ---\n${fed.logTail('aggregator.log', 15)}`);
    throw e;
  } finally {
    await fed.stop();
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
    else console.log(`logs kept in ${dir}`);
  }
}

function list(s: string | undefined, fallback: number[]): number[] {
  if (s === undefined || s === '') return fallback;
  return s.split(',').map((x) => Number(x.trim())).filter((x) => Number.isInteger(x) && x > 0);
}

/** For bench/run.ts: n from BLINDSUM_BENCH_SCALE_N (default 10; "0" skips). */
export async function benchScaleCeremonies(ns: number[] = list(process.env['BLINDSUM_BENCH_SCALE_N'], [10]), secaggLength = Number(process.env['BLINDSUM_BENCH_SECAGG_LENGTH'] ?? 0)): Promise<void> {
  if (ns.length === 0) return;
  const c = measureWorkCosts();
  console.log(`\nkey ceremony at scale — LocalFederation (aggregator + n party processes) on ${availableParallelism()} cores, N8192; Node ${process.versions.node}; load average ${load()}`);
  console.log(`measured costs (deadlines are sized from these): BigInt mul-add ${(c.mulAddMs * 1e6).toFixed(0)} ns, Ed25519 verify ${(c.verifyMs * 1000).toFixed(0)} µs, X25519+HKDF ${(c.agreeMs * 1000).toFixed(0)} µs, ${(1 / c.byteMs / 1e3).toFixed(0)} MB/s signed/hashed, ${(1 / c.prgByteMs / 1e3).toFixed(0)} MB/s AES-CTR mask (floors: FLOOR_COSTS)`);
  for (const n of ns) await benchScaleCeremony(n, secaggLength > 0 ? { secaggLength } : {});
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { n: { type: 'string' }, 'secagg-length': { type: 'string' }, keep: { type: 'boolean' }, 'no-ckks': { type: 'boolean' } } });
  const ns = list(values.n, [10, 30]);
  const secaggLength = Number(values['secagg-length'] ?? 0);
  if (values.keep || values['no-ckks']) {
    for (const n of ns) await benchScaleCeremony(n, { ...(secaggLength > 0 ? { secaggLength } : {}), keep: values.keep ?? false, ckks: !values['no-ckks'] });
  } else {
    await benchScaleCeremonies(ns, secaggLength);
  }
}
