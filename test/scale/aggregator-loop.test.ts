/**
 * Issue 14, item 1 at the aggregator: its event loop never pauses 200 ms or more (the longest
 * pause of the best of three runs, measured with perf_hooks.monitorEventLoopDelay) during an exact
 * secure-aggregation query whose vector has 10^6 entries, from submission to GetResult. The real
 * aggregator (createAggregator) runs on this thread and nothing else does: the 3 real party nodes
 * and the analyst's client run in a worker thread (loop-peers.ts), over loopback gRPC. Each run's
 * exact sums equal the central computation. No time is asserted other than the loop's pauses.
 * Run with `npm run test:scale` (never part of `npm test`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { marginalOfLength, partyCsvs } from '../../bench/scale-common.ts';
import { writeFederation } from '../../bench/scale-sim.ts';
import { resolveAggregatorConfig } from '../../services/aggregator/config.ts';
import { createAggregator, type Aggregator } from '../../services/aggregator/server.ts';
import type { PeersData, PeersReply, PeersRequest } from './loop-peers.ts';

const N = 3;
const cpuMs = (): number => {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
};
const ROWS = 50;

describe('scale: the aggregator\'s event loop during a 3 × 10^6 secure-aggregation query', () => {
  const dir = mkdtempSync(join(tmpdir(), 'blindsum-agg-loop-'));
  const csvs = partyCsvs(N, ROWS);
  let aggregator: Aggregator;
  let peers: Worker;
  const replies: ((r: PeersReply) => void)[] = [];
  const ask = (req: PeersRequest): Promise<PeersReply> =>
    new Promise((resolve) => {
      replies.push(resolve);
      peers.postMessage(req);
    });
  let warnings: string[] = [];

  beforeAll(async () => {
    const files = writeFederation(dir, csvs, false, 120_000);
    aggregator = createAggregator(resolveAggregatorConfig(files.aggregator), (level, msg, fields) => {
      if (level !== 'info') warnings.push(`${level}: ${msg} ${JSON.stringify(fields ?? {}).slice(0, 300)}`);
    });
    const port = await aggregator.start();
    peers = new Worker(new URL('./loop-peers.ts', import.meta.url), { workerData: { address: `127.0.0.1:${port}`, parties: files.parties, analyst: files.analyst, csvs } satisfies PeersData });
    const ready = new Promise<PeersReply>((resolve, reject) => {
      peers.once('message', resolve);
      peers.once('error', reject);
    });
    const r = await ready;
    if (r.type !== 'ready') throw new Error(`peers: ${r.type === 'error' ? r.message : r.type}`);
    peers.on('message', (m: PeersReply) => replies.shift()?.(m));
  });
  afterAll(async () => {
    if (peers) {
      await ask({ type: 'close' });
      await peers.terminate();
    }
    await aggregator?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('never pauses 200 ms or more from submission to GetResult (best of three), and the sums equal the central ones', async () => {
    const { query, length } = marginalOfLength(1_000_000);
    expect(length).toBe(1_000_000);
    // warm: a small query first (code compiled, connections and the release thread's database open), as the party's test does
    expect(await ask({ type: 'run', query: marginalOfLength(1000).query })).toMatchObject({ type: 'ran', status: 'done', sameAsCentral: true });
    const maxima: number[] = [];
    for (let run = 0; run < 3 && !(maxima.length > 0 && Math.min(...maxima) < 200); run++) {
      warnings = [];
      const h = monitorEventLoopDelay({ resolution: 10 });
      h.enable();
      // Diagnosis only (printed, not asserted): the longest gap between 10 ms ticks and the CPU
      // time this thread spent in it: a gap with little CPU is the scheduler's (a loaded machine),
      // one full of CPU is the aggregator's own work.
      let last = { at: performance.now(), cpu: cpuMs() };
      let worst = { gap: 0, cpu: 0 };
      const ticker = setInterval(() => {
        const now = { at: performance.now(), cpu: cpuMs() };
        if (now.at - last.at > worst.gap) worst = { gap: now.at - last.at, cpu: now.cpu - last.cpu };
        last = now;
      }, 10);
      const r = await ask({ type: 'run', query });
      clearInterval(ticker);
      h.disable();
      expect(r.type === 'ran' ? r : undefined, `${JSON.stringify(r)}\n${warnings.join('\n')}`).toMatchObject({ status: 'done', contributors: N, length, sameAsCentral: true });
      maxima.push(h.max / 1e6);
      console.log(`run ${run + 1}: longest pause of the aggregator's event loop ${(h.max / 1e6).toFixed(0)} ms (p99 ${(h.percentile(99) / 1e6).toFixed(0)} ms); longest gap between ticks ${worst.gap.toFixed(0)} ms, of which this thread ran ${worst.cpu.toFixed(0)} ms; load ${loadavg()[0]!.toFixed(1)}`);
    }
    expect(Math.min(...maxima), `longest pauses ${maxima.map((m) => m.toFixed(0)).join(', ')} ms`).toBeLessThan(200);
  });
});
