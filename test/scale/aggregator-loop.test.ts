/**
 * Issue 14, item 1 at the aggregator: its event loop never runs 200 ms or more of CPU without a
 * turn (best of three runs, measured in this thread's CPU time: test/loop-blocking.ts) during an exact
 * secure-aggregation query whose vector has 10^6 entries, from submission to GetResult. The real
 * aggregator (createAggregator) runs on this thread and nothing else does: the 3 real party nodes
 * and the analyst's client run in a worker thread (loop-peers.ts), over loopback gRPC. Each run's
 * exact sums equal the central computation. No time is asserted other than the loop's blocking.
 * Run with `npm run test:scale` (never part of `npm test`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { marginalOfLength, partyCsvs } from '../../bench/scale-common.ts';
import { writeFederation } from '../../bench/scale-sim.ts';
import { resolveAggregatorConfig } from '../../services/aggregator/config.ts';
import { createAggregator, type Aggregator } from '../../services/aggregator/server.ts';
import { describeBlocking, measureLoopBlocking, type LoopBlocking } from '../loop-blocking.ts';
import type { PeersData, PeersReply, PeersRequest } from './loop-peers.ts';

const N = 3;
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

  it('never runs 200 ms of CPU without a turn of its event loop from submission to GetResult (best of three), and the sums equal the central ones', async () => {
    const { query, length } = marginalOfLength(1_000_000);
    expect(length).toBe(1_000_000);
    // warm: a small query first (code compiled, connections and the release thread's database open), as the party's test does
    expect(await ask({ type: 'run', query: marginalOfLength(1000).query })).toMatchObject({ type: 'ran', status: 'done', sameAsCentral: true });
    // Blocking is measured in this thread's CPU time between two turns of its event loop
    // (test/loop-blocking.ts): a gap full of the aggregator's own CPU is its work; a wall-clock gap
    // with little CPU is the scheduler's (a loaded machine), which used to fail this test.
    const runs: LoopBlocking<PeersReply>[] = [];
    for (let run = 0; run < 3 && !(runs.length > 0 && Math.min(...runs.map((x) => x.blockedCpuMs)) < 200); run++) {
      warnings = [];
      const m = await measureLoopBlocking(() => ask({ type: 'run', query }));
      const r = m.value;
      expect(r.type === 'ran' ? r : undefined, `${JSON.stringify(r)}\n${warnings.join('\n')}`).toMatchObject({ status: 'done', contributors: N, length, sameAsCentral: true });
      runs.push(m);
      console.log(`run ${run + 1}: ${describeBlocking([m])}; load ${loadavg()[0]!.toFixed(1)}`);
    }
    expect(Math.min(...runs.map((x) => x.blockedCpuMs)), describeBlocking(runs)).toBeLessThan(200);
  });
});
