/**
 * End-to-end query time of both backends over real gRPC on loopback: an aggregator and 3 party
 * processes (t = 2) started by the real CLI on the pbc data, the same queries with secure
 * aggregation and with multiparty CKKS (the CKKS time includes the analyst's decryption and
 * post-processing). Also the time of the CKKS key ceremony and the bytes each party uploads.
 * Run: ./node_modules/.bin/node bench/run.ts
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { QueryOutcome } from '../client/analyst.ts';
import { generateAnalystKey } from '../client/ckks-analyst.ts';
import { LocalFederation } from '../cli/federation.ts';
import { describeQuery, splitCsvText, type Query } from '../stats/index.ts';

const EXAMPLES = fileURLToPath(new URL('../examples/pbc/', import.meta.url));

function edges(n: number): number[] {
  return Array.from({ length: n + 1 }, (_, i) => (10_000 * i) / n);
}

const QUERIES: Query[] = [
  { kind: 'count', columns: [], filter: [] },
  { kind: 'linear_regression', columns: ['age', 'albumin', 'protime'], target: 'bili', filter: [] },
  { kind: 'histogram', columns: ['time'], bins: edges(1000), filter: [] },
  { kind: 'histogram', columns: ['time'], bins: edges(10_000), filter: [] },
];

export async function benchEndToEnd(options: { repeats?: number } = {}): Promise<void> {
  const repeats = options.repeats ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'blindsum-bench-e2e-'));
  const parts = splitCsvText(readFileSync(join(EXAMPLES, 'pbc.csv'), 'utf8'), 3, 'bench');
  const t0 = performance.now();
  const fed = await LocalFederation.start({ dir, schemaPath: join(EXAMPLES, 'schema.json'), partyData: parts, threshold: 2, ckks: true });
  const started = performance.now() - t0;
  const client = fed.client();
  try {
    const t1 = performance.now();
    await fed.waitCollectiveKey();
    const ceremony = performance.now() - t1;
    const key = await generateAnalystKey();
    console.log(`\nend-to-end queries over gRPC on loopback — aggregator + 3 party processes (t = 2), pbc data; Node ${process.versions.node}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    console.log(`federation up in ${(started / 1000).toFixed(1)} s; CKKS key ceremony (node-seal loaded in every process, CRS, CKG, Thresholdizer) ${(ceremony / 1000).toFixed(1)} s after that`);
    console.log(`ms = submit → result at the analyst (CKKS: including its decryption and post-processing), best of ${repeats}; upload = bytes of one party's input (secagg: the masked Z_2^64 vector; ckks: its ciphertexts, compact form)\n`);
    const header = ['query', 'statistics', 'secagg ms', 'ckks ms', 'ratio', 'secagg upload', 'ckks upload', 'ckks B/statistic', 'cts', 'level', 'ckks max err', 'same sums'];
    const rows: string[][] = [header];
    for (const q of QUERIES) {
      const best = async (backend: 'secagg' | 'ckks'): Promise<{ ms: number; o: QueryOutcome }> => {
        let out: { ms: number; o: QueryOutcome } | undefined;
        for (let r = 0; r < repeats; r++) {
          const o = await client.run(q, { backend, ...(backend === 'ckks' ? { ckksKey: key } : {}) });
          if (o.status !== 'done') throw new Error(`${backend} ${describeQuery(q)}: ${o.error}`);
          if (!out || o.elapsedMs < out.ms) out = { ms: o.elapsedMs, o };
        }
        return out!;
      };
      const s = await best('secagg');
      const c = await best('ckks');
      const m = s.o.exactSums.length;
      const same = m === c.o.exactSums.length && s.o.exactSums.every((x, i) => x === c.o.exactSums[i]);
      const ck = c.o.ckks!;
      const name = q.kind === 'histogram' ? `histogram(${q.bins!.length - 1} bins)` : q.kind;
      rows.push([
        name, String(m), s.ms.toFixed(0), c.ms.toFixed(0), (c.ms / s.ms).toFixed(1), String(8 * m), String(ck.bytes), (ck.bytes / m).toFixed(1),
        String(ck.ciphertexts), String(ck.level), ck.maxRawError.toExponential(1), same ? 'yes' : 'NO',
      ]);
    }
    const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i]!)).join('  '));
  } finally {
    client.close();
    await fed.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
