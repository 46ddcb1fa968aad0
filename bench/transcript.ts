/**
 * Transcript benchmarks.
 *  1. Verification: a transcript of 100 secure-aggregation queries, built in-process with the
 *     real protocol (bench/transcript-build.ts: 3 parties, t = 2, SecAggClient on their share of
 *     the pbc data, a SecAggServer, every round message signed in an envelope, masked inputs
 *     logged by digest with their blobs), verified offline as `blindsum audit verify` does (with
 *     the schema: plans and results recomputed, every masked sum replayed and unmasked).
 *  2. Bytes per query (docs/transcripts.md, "Blobs"): one query of L values (default 10^5;
 *     BENCH_TRANSCRIPT_L=1000000 for 10^6) from 3 parties, logged by the aggregator's real
 *     TranscriptLog twice in the same run — every body inline (the log before blobs) and with the
 *     blob kinds by digest — measuring transcript.sqlite, the blob store, and the exported JSON.
 * Run: ./node_modules/.bin/node bench/run.ts, or alone:
 *   ./node_modules/.bin/node -e "import('./bench/transcript.ts').then((m) => m.benchTranscript())"
 * BENCH_TRANSCRIPT_FAST=1 skips the 100-query verification; BENCH_TRANSCRIPT_CKKS=0 skips the CKKS
 * payload measurement (bench/transcript-ckks.ts: real ciphertexts and PCKS shares of L values).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ringEncode } from '../crypto/ring.ts';
import { decodeEntry } from '../crypto/transcript.ts';
import { exportTranscript } from '../services/audit/audit.ts';
import { parseTranscript, serializeTranscript, type TranscriptFile } from '../services/common/transcript-file.ts';
import { verifyTranscript } from '../services/audit/verify.ts';
import { TranscriptLog } from '../services/aggregator/transcript-log.ts';
import { parseRoster } from '../services/common/roster.ts';
import { buildDataset, finalize, localStatistics, parseSchema, planQuery, schemaDigest, splitCsvText, type Query } from '../stats/index.ts';
import { LogSink, MemorySink, makeFederation, runSecaggQuery, syntheticRun } from './transcript-build.ts';
import { benchTranscriptCkksBytes } from './transcript-ckks.ts';

const QUERIES = 100;
const PARTIES = ['hospital-1', 'hospital-2', 'hospital-3'];
const THRESHOLD = 2;
const KINDS: Query[] = [
  { kind: 'count', columns: [], filter: [] },
  { kind: 'mean', columns: ['age'], filter: [{ column: 'sex', op: 'eq', values: ['f'] }] },
  { kind: 'histogram', columns: ['age'], bins: [30, 40, 50, 60, 70, 80], filter: [] },
  { kind: 'covariance', columns: ['age', 'bili', 'albumin'], filter: [] },
  { kind: 'linear_regression', columns: ['age', 'albumin', 'protime'], target: 'bili', filter: [] },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

const mib = (n: number): string => (n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`);
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

function build(): { file: TranscriptFile; rosterJson: unknown; schema: ReturnType<typeof parseSchema> } {
  const schema = parseSchema(JSON.parse(readFileSync(new URL('../examples/pbc/schema.json', import.meta.url), 'utf8')));
  const parts = splitCsvText(readFileSync(new URL('../examples/pbc/pbc.csv', import.meta.url), 'utf8'), PARTIES.length, 'bench');
  const datasets = parts.map((p) => buildDataset(schema, p).dataset);
  const fed = makeFederation(PARTIES, THRESHOLD);
  const sink = new MemorySink(fed);
  for (let n = 0; n < QUERIES; n++) {
    const query = KINDS[n % KINDS.length]!;
    const plan = planQuery(query, schema, { parties: PARTIES.length, ringBits: 64 });
    runSecaggQuery(fed, {
      sessionId: `bench-query-${String(n).padStart(4, '0')}`, query, planDigest: plan.digest, vectorLength: plan.entries.length, schemaDigest: schemaDigest(schema),
      inputs: datasets.map((d) => ringEncode(localStatistics(query, schema, plan, d).sums, 64)),
      release: (sums) => ({ scaleBits: plan.scaleBits, entryNames: plan.entries.map((e) => e.name), resultJson: JSON.stringify(finalize(query, schema, plan, sums)) }),
    }, sink);
  }
  return { file: sink.file(), rosterJson: fed.rosterJson, schema };
}

function dirBytes(dir: string): { bytes: number; files: number } {
  let bytes = 0;
  let files = 0;
  try {
    for (const f of readdirSync(dir)) {
      bytes += statSync(join(dir, f)).size;
      files++;
    }
  } catch {
    /* no directory: nothing */
  }
  return { bytes, files };
}

interface Footprint {
  sqlite: number;
  blobs: number;
  blobFiles: number;
  entries: number;
  largestEntry: number;
  exportJson: number;
  verifyMs: number;
}

/** One query of `length` values from 3 parties through the real TranscriptLog; measured on disk and exported. */
function footprint(length: number, inline: boolean): Footprint {
  const dir = mkdtempSync(join(tmpdir(), 'blindsum-bench-transcript-'));
  try {
    const fed = makeFederation(PARTIES, THRESHOLD);
    const agg = { id: fed.aggregator, identity: fed.agg };
    const log = TranscriptLog.open(dir, fed.federation, agg, inline ? { byDigest: () => false } : {});
    runSecaggQuery(fed, syntheticRun('q-bytes', PARTIES.length, length), new LogSink(log));
    log.close(); // checkpoints the WAL into transcript.sqlite
    const sqlite = ['transcript.sqlite', 'transcript.sqlite-wal'].reduce((n, f) => n + (existsSync(join(dir, f)) ? statSync(join(dir, f)).size : 0), 0);
    const blobDir = dirBytes(join(dir, 'transcript-blobs'));
    const out = join(dir, 'export.json');
    const file = exportTranscript(dir, {}, out);
    const sizes = file.entries.map((l) => l.entry.length);
    const t = performance.now();
    const report = verifyTranscript(parseTranscript(readFileSync(out, 'utf8')), parseRoster(fed.rosterJson), { ...(file.blobs ? { blobs: file.blobs } : {}) });
    const verifyMs = performance.now() - t;
    if (!report.ok || report.unchecked?.length) throw new Error(`bench transcript did not verify completely: ${report.failure?.reason ?? report.unchecked?.join('; ')}`);
    if (inline && file.entries.some((l) => decodeEntry(l.entry).bodyDigest)) throw new Error('inline log holds a digest entry');
    return {
      sqlite, blobs: blobDir.bytes, blobFiles: blobDir.files, entries: sizes.reduce((a, b) => a + b, 0),
      largestEntry: Math.max(...sizes), exportJson: statSync(out).size, verifyMs,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchTranscriptBytes(length: number = Number(process.env['BENCH_TRANSCRIPT_L'] ?? 100_000)): Promise<void> {
  if (!Number.isSafeInteger(length) || length < 1) throw new RangeError(`BENCH_TRANSCRIPT_L: expected a positive integer, got ${length}`);
  const before = footprint(length, true);
  const after = footprint(length, false);
  const row = (name: string, a: number, b: number): string => `  ${name.padEnd(44)} ${mib(a).padStart(12)} ${mib(b).padStart(12)}   ${(a / Math.max(b, 1)).toFixed(0).padStart(6)}×\n`;
  process.stdout.write(
    `\ntranscript bytes per query: 1 secagg query, ${PARTIES.length} parties × ${length.toLocaleString('en')} values (Z_2^64), real TranscriptLog, load ${load()}\n` +
      `  ${''.padEnd(44)} ${'inline'.padStart(12)} ${'by digest'.padStart(12)}   before/after\n` +
      row('transcript.sqlite (the chained log)', before.sqlite, after.sqlite) +
      row('sum of entry bytes', before.entries, after.entries) +
      row('largest entry', before.largestEntry, after.largestEntry) +
      row('exported transcript JSON', before.exportJson, after.exportJson) +
      `  blob store (content-addressed, retention-managed): ${mib(after.blobs)} in ${after.blobFiles} files; log + blobs = ${mib(after.sqlite + after.blobs)} (inline log: ${mib(before.sqlite)})\n` +
      `  verify with blobs (every masked input read, checked against its digest, sum unmasked): ${(after.verifyMs / 1000).toFixed(2)} s; inline: ${(before.verifyMs / 1000).toFixed(2)} s\n`,
  );
  if (process.env['BENCH_TRANSCRIPT_CKKS'] !== '0') process.stdout.write(await benchTranscriptCkksBytes(length));
}

export async function benchTranscript(): Promise<void> {
  if (process.env['BENCH_TRANSCRIPT_FAST'] !== '1') {
    const t0 = performance.now();
    const { file, rosterJson, schema } = build();
    const buildMs = performance.now() - t0;
    const text = serializeTranscript(file);
    const roster = parseRoster(rosterJson);
    const times: number[] = [];
    for (let r = 0; r < 3; r++) {
      const t1 = performance.now();
      const report = verifyTranscript(parseTranscript(text), roster, { schema, ...(file.blobs ? { blobs: file.blobs } : {}) });
      times.push(performance.now() - t1);
      if (!report.ok || report.unchecked?.length) throw new Error(`bench transcript did not verify: ${report.failure ? `entry ${report.failure.index}: ${report.failure.reason}` : report.unchecked!.join('; ')}`);
    }
    const ms = median(times);
    process.stdout.write(
      `\ntranscript: ${QUERIES} secagg queries (${PARTIES.length} parties, t = ${THRESHOLD}, kinds ${KINDS.map((k) => k.kind).join('/')}), built in-process with the real protocol\n` +
        `  ${file.entries.length} entries, ${(text.length / 1024).toFixed(0)} KiB exported; built and signed in ${(buildMs / 1000).toFixed(2)} s\n` +
        `  verify (parse, chain, ${2 * file.entries.length} Ed25519 signatures, blobs checked, replay + unmask of every sum, plans and results recomputed): ` +
        `${(ms / 1000).toFixed(2)} s median of 3 (${(ms / file.entries.length).toFixed(2)} ms/entry, ${(ms / QUERIES).toFixed(1)} ms/query), load ${load()}\n`,
    );
  }
  await benchTranscriptBytes();
}

