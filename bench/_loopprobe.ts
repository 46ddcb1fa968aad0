import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { marginalOfLength, partyCsvs } from './scale-common.ts';
import { writeFederation } from './scale-sim.ts';
import { resolveAggregatorConfig } from '../services/aggregator/config.ts';
import { createAggregator } from '../services/aggregator/server.ts';
const dir = mkdtempSync(join(tmpdir(), 'loopprobe-'));
const csvs = partyCsvs(3, 50);
const files = writeFederation(dir, csvs, false, 120_000);
const T0 = performance.now();
const t = (): string => (performance.now() - T0).toFixed(0).padStart(6);
const agg = createAggregator(resolveAggregatorConfig(files.aggregator), (level, msg, fields) => console.log(t(), level, msg, JSON.stringify(fields ?? {}).slice(0, 160)));
const port = await agg.start();
new PerformanceObserver((l) => { for (const e of l.getEntries()) if (e.duration > 30) console.log(t(), 'GC', e.duration.toFixed(0), JSON.stringify((e as unknown as { detail: unknown }).detail)); }).observe({ entryTypes: ['gc'] });
let last = performance.now();
setInterval(() => { const now = performance.now(); if (now - last > 90) console.log(t(), 'GAP', (now - last).toFixed(0)); last = now; }, 10);
const peers = new Worker(new URL('../test/scale/loop-peers.ts', import.meta.url), { workerData: { address: `127.0.0.1:${port}`, parties: files.parties, analyst: files.analyst, csvs } });
await new Promise((r) => peers.once('message', r));
console.log(t(), 'peers ready');
const { query } = marginalOfLength(1e6);
for (let i = 0; i < 2; i++) {
  peers.postMessage({ type: 'run', query });
  console.log(t(), 'RESULT', JSON.stringify(await new Promise((r) => peers.once('message', r))));
}
process.exit(0);
