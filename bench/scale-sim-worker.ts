/**
 * A worker thread of the simulated-scale bench (bench/scale-sim.ts): either the real aggregator
 * (services/aggregator/server.ts createAggregator) or a group of real party nodes
 * (services/party/node.ts createPartyNode), talking over loopback gRPC exactly as the
 * `blindsum aggregator` / `blindsum party` processes do. The thread reports its own CPU time
 * (process.threadCpuUsage) and the peak of its isolate's memory (heap used + external, sampled
 * every 20 ms) on request.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { resolveAggregatorConfig, type AggregatorConfigInput } from '../services/aggregator/config.ts';
import { createAggregator, type Aggregator } from '../services/aggregator/server.ts';
import type { Logger } from '../services/common/errors.ts';
import { resolvePartyConfig, type PartyConfigInput } from '../services/party/config.ts';
import { createPartyNode, type PartyNode } from '../services/party/node.ts';

export type SimWorkerData = { role: 'aggregator'; input: AggregatorConfigInput } | { role: 'parties'; inputs: PartyConfigInput[] };
export type SimRequest = { type: 'stats' } | { type: 'resetPeak' } | { type: 'close' };
export interface SimStats {
  type: 'stats';
  /** This thread's CPU time (user + system) since it started, µs. */
  cpuUs: number;
  /** Heap used + external memory of this isolate: now, and its peak since the last resetPeak, bytes. */
  memBytes: number;
  peakBytes: number;
  /** The last warning or error this thread's services logged (why a query failed, e.g. an internal error the analyst sees only as such). */
  lastWarning: string;
}
export type SimReply = { type: 'ready'; port?: number } | SimStats | { type: 'closed' } | { type: 'error'; message: string };

const port = parentPort!;
const data = workerData as SimWorkerData;
/** Warnings and errors only, prefixed, so that a failing run says why (stderr of the bench). */
let lastWarning = '';
const log = (who: string): Logger => (level, msg, fields) => {
  if (level !== 'warn' && level !== 'error') return;
  const line = `[${who}] ${level}: ${msg}${fields ? ` ${JSON.stringify(fields).slice(0, 300)}` : ''}`;
  lastWarning = line;
  process.stderr.write(`${line}\n`);
};

const memNow = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};
let peak = memNow();
const sampler = setInterval(() => {
  const m = memNow();
  if (m > peak) peak = m;
}, 20);
sampler.unref();

let aggregator: Aggregator | undefined;
let parties: PartyNode[] = [];

port.on('message', (req: SimRequest) => {
  void (async () => {
    switch (req.type) {
      case 'stats': {
        const m = memNow();
        if (m > peak) peak = m;
        const c = process.threadCpuUsage();
        port.postMessage({ type: 'stats', cpuUs: c.user + c.system, memBytes: m, peakBytes: peak, lastWarning } satisfies SimReply);
        return;
      }
      case 'resetPeak':
        peak = memNow();
        lastWarning = '';
        port.postMessage({ type: 'stats', cpuUs: 0, memBytes: peak, peakBytes: peak, lastWarning } satisfies SimReply);
        return;
      case 'close':
        await aggregator?.close();
        await Promise.all(parties.map((p) => p.close()));
        clearInterval(sampler);
        port.postMessage({ type: 'closed' } satisfies SimReply);
        return;
    }
  })().catch((e: unknown) => port.postMessage({ type: 'error', message: (e as Error).message } satisfies SimReply));
});

try {
  if (data.role === 'aggregator') {
    aggregator = createAggregator(resolveAggregatorConfig(data.input), log('aggregator'));
    const p = await aggregator.start();
    port.postMessage({ type: 'ready', port: p } satisfies SimReply);
  } else {
    parties = data.inputs.map((input) => {
      const config = resolvePartyConfig(input);
      return createPartyNode(config, log(config.identity.id));
    });
    for (const p of parties) p.start();
    await Promise.all(parties.map((p) => p.connected()));
    port.postMessage({ type: 'ready' } satisfies SimReply);
  }
} catch (e) {
  port.postMessage({ type: 'error', message: (e as Error).message } satisfies SimReply);
}
