/**
 * The aggregator's O(L) steps of one secure-aggregation query, timed one by one in this process
 * (each step as services/aggregator/queries.ts and server.ts ran it on the event loop before the
 * release thread): planning at submit, the release (decode, range check, post-processing, JSON of
 * the result and of the exact sums, the Released record, the durable writes) and GetResult (the
 * stored row read, the response built and protobuf-encoded). Then the same through the release
 * thread (services/aggregator/release-thread.ts), timing what is left on this thread.
 *
 * Both sequences are watched with perf_hooks.monitorEventLoopDelay (longest pause per run; the
 * "before" sequence gives the loop a turn between steps, as queries.ts did).
 *
 * Run: npm run bench -- agg [L], or node bench/agg-steps.ts [L] (default L = 10^6, or
 * BLINDSUM_BENCH_AGG_L; fast path: BLINDSUM_BENCH_AGG_REPEATS=1, default 3).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ringDecode, ringEncode } from '../crypto/ring.ts';
import { GetResultResponse } from '../gen/blindsum/v1/blindsum.ts';
import { checkReleasedSums, finalizeReleased, planQuery, resultEntryNames } from '../stats/index.ts';
import { jsonBody } from '../services/common/transcript-records.ts';
import { queryToProto } from '../services/common/query-codec.ts';
import { publicMessage } from '../services/common/errors.ts';
import { AggregatorStore } from '../services/aggregator/store.ts';
import { ReleaseThread } from '../services/aggregator/release-thread.ts';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { marginalOfLength, median, pbcSchema } from './scale-common.ts';

type Timings = Map<string, number[]>;
const timeAsync = async <T>(t: Timings, name: string, fn: () => Promise<T>): Promise<T> => {
  const t0 = performance.now();
  const r = await fn();
  t.set(name, [...(t.get(name) ?? []), performance.now() - t0]);
  return r;
};
const time = <T>(t: Timings, name: string, fn: () => T): T => {
  const t0 = performance.now();
  const r = fn();
  const ms = performance.now() - t0;
  t.set(name, [...(t.get(name) ?? []), ms]);
  return r;
};

export async function benchAggregatorSteps(L: number = Number(process.env['BLINDSUM_BENCH_AGG_L'] ?? 1e6), repeats: number = Number(process.env['BLINDSUM_BENCH_AGG_REPEATS'] ?? 3)): Promise<void> {
  const { query, length } = marginalOfLength(L);
  const dir = mkdtempSync(join(tmpdir(), 'blindsum-agg-steps-'));
  const store = new AggregatorStore(join(dir, 'aggregator.db'));
  const thread = new ReleaseThread(pbcSchema, join(dir, 'aggregator.db'));
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void; // each sequence starts on a collected heap
  const main: Timings = new Map();
  const pauses: { before: number[]; after: number[] } = { before: [], after: [] };
  const left: Timings = new Map();
  try {
    for (let r = 0; r < repeats; r++) {
      const id = `q${r}`;
      // before: every step on the event loop
      const exact = Array.from({ length }, (_, i) => BigInt(i % 7 === 0 ? 3 : 0));
      const ring = ringEncode(exact, 64);
      gc();
      const hBefore = monitorEventLoopDelay({ resolution: 10 });
      hBefore.enable();
      const plan = time(main, 'planQuery (submit)', () => planQuery(query, pbcSchema, { parties: 3, ringBits: 64 }));
      await nextTurn(); // the event loop's turn between steps, as queries.ts gave it
      const sums = time(main, 'ringDecode', () => ringDecode(ring, 64));
      await nextTurn(); // the event loop's turn between steps, as queries.ts gave it
      time(main, 'checkReleasedSums', () => checkReleasedSums(plan, pbcSchema, sums, 3));
      await nextTurn(); // the event loop's turn between steps, as queries.ts gave it
      const { result } = time(main, 'finalizeReleased', () => finalizeReleased(query, pbcSchema, plan, sums, false, publicMessage));
      await nextTurn(); // the event loop's turn between steps, as queries.ts gave it
      const resultJson = time(main, 'JSON of the result', () => JSON.stringify(result));
      await nextTurn(); // the event loop's turn between steps, as queries.ts gave it
      const exactSums = time(main, 'exact sums to strings', () => sums.map(String));
      await nextTurn(); // the event loop's turn between steps, as queries.ts gave it
      const body = time(main, 'Released record (jsonBody)', () => jsonBody({ queryId: id, contributors: ['a', 'b', 'c'], exactSums, scaleBits: plan.scaleBits, entryNames: resultEntryNames(plan), resultJson }));
      store.insertQuery({ id, analyst: 'a', backend: 'secagg', spec: queryToProto(query), planDigest: plan.digest, submittedAtMs: 0, rhoCharged: 0 });
      await nextTurn(); // the event loop's turn between steps, as queries.ts gave it
      time(main, 'store.finish (SQLite, synchronous=FULL)', () => store.finish(id, { status: 'done', resultJson, exactSums, scaleBits: plan.scaleBits, entryNames: [], contributors: ['a', 'b', 'c'], finishedAtMs: 1 }));
      await nextTurn(); // the event loop's turn between steps, as queries.ts gave it
      const q = time(main, 'GetResult: store.getQuery', () => store.getQuery(id)!);
      await nextTurn(); // the event loop's turn between steps, as queries.ts gave it
      const bytes = time(main, 'GetResult: response encode', () => GetResultResponse.encode({
        queryId: q.id, status: q.status, error: q.error, query: q.spec, backend: q.backend, resultJson: q.resultJson, entryNames: q.entryNames, aggregate: q.aggregate, contributors: q.contributors,
        refusals: q.refusals, planDigest: q.planDigest, submittedAtMs: BigInt(q.submittedAtMs), finishedAtMs: BigInt(q.finishedAtMs), rhoCharged: q.rhoCharged, rhoSpent: q.rhoSpent,
        noiseStd: q.noiseStd, uncertaintyJson: q.uncertaintyJson, noiseJson: q.noiseJson, exactSums: q.exactSums.map((x) => BigInt(x)), scaleBits: q.scaleBits, ckks: undefined,
      }).finish());
      hBefore.disable();
      pauses.before.push(hBefore.max / 1e6);

      // after: through the release thread; what this thread still does
      const id2 = `t${r}`;
      const args = { query, parties: 3, ringBits: 64 as const, rho: 0, threshold: 2, collusion: 0 };
      gc();
      const hAfter = monitorEventLoopDelay({ resolution: 10 });
      hAfter.enable();
      const planned = await timeAsync(left, 'plan (round trip)', () => thread.plan(args));
      store.insertQuery({ id: id2, analyst: 'a', backend: 'secagg', spec: queryToProto(query), planDigest: planned.digest, submittedAtMs: 0, rhoCharged: 0 });
      const rel = await timeAsync(left, 'release (round trip)', () => thread.release({ args, digest: planned.digest, queryId: id, sum: ring, contributors: ['a', 'b', 'c'], minCohort: 0 }));
      if (Buffer.compare(Buffer.from(rel.releasedBody), Buffer.from(body)) !== 0) throw new Error('the thread built another Released record');
      await timeAsync(left, 'finish: the row written (round trip)', () => thread.finish(id2, { status: 'done', resultJson: rel.resultJson, error: rel.postError, json: rel.json, contributors: ['a', 'b', 'c'], finishedAtMs: 1 }));
      const encoded = await timeAsync(left, 'GetResult (round trip)', () => thread.getResult(id2));
      hAfter.disable();
      pauses.after.push(hAfter.max / 1e6);
      if (!encoded) throw new Error('no stored result');
      if (Buffer.compare(Buffer.from(GetResultResponse.encode({ ...GetResultResponse.decode(encoded), queryId: id }).finish()), Buffer.from(bytes)) !== 0) throw new Error('GetResult bytes differ');
    }
  } finally {
    await thread.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const [l1, l5] = loadavg();
  console.log(`\n## Aggregator O(L) steps, L = ${length} (median of ${repeats}, ms; load ${l1!.toFixed(1)} / ${l5!.toFixed(1)})`);
  console.log('| on the event loop before | ms |\n|---|---|');
  for (const [k, v] of main) console.log(`| ${k} | ${median(v).toFixed(0)} |`);
  console.log('| with the release thread (wall time of each round trip: the event loop is free meanwhile) | ms |\n|---|---|');
  for (const [k, v] of left) console.log(`| ${k} | ${median(v).toFixed(0)} |`);
  console.log(`longest event-loop pause (monitorEventLoopDelay, per run): before ${pauses.before.map((m) => m.toFixed(0)).join(', ')} ms; with the release thread ${pauses.after.map((m) => m.toFixed(0)).join(', ')} ms`);
}

if (import.meta.url === `file://${process.argv[1]}`) await benchAggregatorSteps(Number(process.argv[2] ?? process.env['BLINDSUM_BENCH_AGG_L'] ?? 1e6));
