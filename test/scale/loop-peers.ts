/**
 * The peers of test/scale/aggregator-loop.test.ts, in a worker thread so that their work never
 * runs on the aggregator's event loop (the test's main thread, which measures it): the real party
 * nodes (createPartyNode) of a federation written by bench/scale-sim.ts writeFederation, and the
 * real analyst client (AnalystClient), over loopback gRPC. On {type: 'run'} the analyst runs one
 * exact secure-aggregation query (submit, watch, GetResult) and the reply says whether its exact
 * sums equal the central computation on the concatenated data.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AnalystClient } from '../../client/analyst.ts';
import type { IdentityFile } from '../../services/common/keys.ts';
import { resolvePartyConfig, type PartyConfigInput } from '../../services/party/config.ts';
import { createPartyNode } from '../../services/party/node.ts';
import type { Query } from '../../stats/index.ts';
import { centralSums } from '../../bench/scale-common.ts';

export type PeersData = { address: string; parties: PartyConfigInput[]; analyst: IdentityFile; csvs: string[] };
export type PeersRequest = { type: 'run'; query: Query } | { type: 'close' };
export type PeersReply =
  | { type: 'ready' }
  | { type: 'ran'; status: string; error: string; contributors: number; length: number; sameAsCentral: boolean }
  | { type: 'closed' }
  | { type: 'error'; message: string };

const port = parentPort!;
const data = workerData as PeersData;
const quiet = (): void => {};
const parties = data.parties.map((p) => createPartyNode(resolvePartyConfig({ ...p, aggregator: data.address }), quiet));
const client = new AnalystClient(data.address, { identity: data.analyst });

port.on('message', (req: PeersRequest) => {
  void (async () => {
    if (req.type === 'close') {
      client.close();
      await Promise.all(parties.map((p) => p.close()));
      port.postMessage({ type: 'closed' } satisfies PeersReply);
      return;
    }
    const o = await client.run(req.query, { backend: 'secagg', deadlineMs: 600_000 });
    const expected = o.status === 'done' ? centralSums(req.query, data.csvs, data.csvs.length) : [];
    const sameAsCentral = o.exactSums.length === expected.length && o.exactSums.every((x, i) => x === expected[i]);
    port.postMessage({ type: 'ran', status: o.status, error: o.error, contributors: o.contributors.length, length: o.exactSums.length, sameAsCentral } satisfies PeersReply);
  })().catch((e: unknown) => port.postMessage({ type: 'error', message: (e as Error).message } satisfies PeersReply));
});

try {
  for (const p of parties) p.start();
  await Promise.all(parties.map((p) => p.connected()));
  port.postMessage({ type: 'ready' } satisfies PeersReply);
} catch (e) {
  port.postMessage({ type: 'error', message: (e as Error).message } satisfies PeersReply);
}
