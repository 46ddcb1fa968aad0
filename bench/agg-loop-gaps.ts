/**
 * Where the aggregator's event loop still pauses during a 10^6-entry secure-aggregation query:
 * the real aggregator (createAggregator) on this thread, 3 party nodes and the analyst's client in
 * a worker thread (test/scale/loop-peers.ts), and on this thread a 10 ms timer that prints every
 * gap over 90 ms, GC pauses over 30 ms and the aggregator's log (round closes), with times in ms
 * since start, so each gap can be placed in the protocol. Add `node --cpu-prof` to see what ran.
 *
 * Run: node bench/agg-loop-gaps.ts [L] [runs] (default 10^6 entries, 2 runs).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { marginalOfLength, partyCsvs } from './scale-common.ts';
import { writeFederation } from './scale-sim.ts';
import { resolveAggregatorConfig } from '../services/aggregator/config.ts';
import { createAggregator } from '../services/aggregator/server.ts';
const dir = mkdtempSync(join(tmpdir(), 'blindsum-agg-loop-gaps-'));
const L = Number(process.argv[2] ?? 1e6);
const RUNS = Number(process.argv[3] ?? 2);
const csvs = partyCsvs(3, 50);
const files = writeFederation(dir, csvs, false, 120_000);
const T0 = performance.now();
const t = (): string => (performance.now() - T0).toFixed(0).padStart(6);
const agg = createAggregator(resolveAggregatorConfig(files.aggregator), (level, msg, fields) => console.log(t(), level, msg, JSON.stringify(fields ?? {}).slice(0, 160)));
console.log(t(), `load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
const port = await agg.start();
new PerformanceObserver((l) => { for (const e of l.getEntries()) if (e.duration > 30) console.log(t(), 'GC', e.duration.toFixed(0), JSON.stringify((e as unknown as { detail: unknown }).detail)); }).observe({ entryTypes: ['gc'] });
let last = performance.now();
setInterval(() => { const now = performance.now(); if (now - last > 90) console.log(t(), 'GAP', (now - last).toFixed(0)); last = now; }, 10);
const peers = new Worker(new URL('../test/scale/loop-peers.ts', import.meta.url), { workerData: { address: `127.0.0.1:${port}`, parties: files.parties, analyst: files.analyst, csvs } });
await new Promise((r) => peers.once('message', r));
console.log(t(), 'peers ready');
const { query } = marginalOfLength(L);
for (let i = 0; i < RUNS; i++) {
  console.log(t(), 'submit');
  peers.postMessage({ type: 'run', query });
  const reply = await new Promise((r) => peers.once('message', r));
  console.log(t(), 'result', JSON.stringify(reply));
}
peers.postMessage({ type: 'close' });
await new Promise((r) => peers.once('message', r));
await peers.terminate();
await agg.close();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
