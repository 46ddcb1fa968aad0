import { UsageError, str, type Command } from '../args.ts';
import { blobDirOf, exportTranscript, verifyFiles } from '../../services/audit/audit.ts';
import { formatReport } from '../../services/audit/verify.ts';
import type { TranscriptSelection } from '../../services/common/transcript-file.ts';

function time(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isSafeInteger(ms)) throw new UsageError(`--${name}: expected an ISO 8601 time or milliseconds since 1970, got ${JSON.stringify(s)}`);
  return ms;
}

export const audit: Command = {
  name: 'audit',
  summary: 'export the signed protocol transcript, or verify one offline (docs/transcripts.md)',
  usage: [
    'blindsum audit export --data-dir AGGREGATOR_DATA_DIR --out FILE [--query ID ... | --from TIME --to TIME] [--without-blobs]',
    '       blindsum audit verify FILE --roster roster.json --analysts analysts.json [--schema schema.json] [--receipts DIR_OR_FILE ...] [--blobs DIR]',
    'exit codes of verify: 0 verified, 1 a check failed, 2 unreadable input, 3 verified except checks that could not run (blobs absent; listed)',
  ].join('\n'),
  allowPositionals: true,
  options: {
    'data-dir': { type: 'string' }, out: { type: 'string' }, query: { type: 'string', multiple: true }, from: { type: 'string' }, to: { type: 'string' },
    roster: { type: 'string' }, analysts: { type: 'string' }, schema: { type: 'string' }, receipts: { type: 'string', multiple: true },
    blobs: { type: 'string' }, 'without-blobs': { type: 'boolean' },
  },
  help: {
    'data-dir': 'export: the aggregator\'s data directory (holds transcript.sqlite and aggregator.key)', out: 'export: file to write',
    query: 'export: only the entries covering this query id', from: 'export: entries at or after this time (ISO 8601 or ms)', to: 'export: entries at or before this time',
    roster: 'verify: the federation roster with the parties\' and the aggregator\'s public keys', schema: 'verify: the federation schema (recompute plans and results)',
    receipts: 'verify: receipts files of the parties, or directories of *.jsonl receipts files',
    blobs: 'verify: directory of the export\'s blobs (bodies logged by digest: masked inputs, CKKS ciphertexts, PCKS shares); default FILE.blobs',
    'without-blobs': 'export: do not copy the blobs to FILE.blobs (verify then recomputes no sum, and says so)',
    analysts: 'verify: the operator-signed analyst roster (analysts.json): check that an analyst signed each query, as logged (without it: not checked, and the report says so)',
  },
  async run(v, positionals) {
    const [sub, ...rest] = positionals;
    if (sub === 'export') {
      if (rest.length) throw new UsageError(`audit export takes no positional arguments, got ${rest.join(' ')}`);
      const queries = v['query'] as string[] | undefined;
      const fromMs = time(v['from'], 'from');
      const toMs = time(v['to'], 'to');
      if (queries && (fromMs !== undefined || toMs !== undefined)) throw new UsageError('give either --query or --from/--to, not both');
      const selection: TranscriptSelection = queries ? { queries } : { ...(fromMs !== undefined ? { fromMs } : {}), ...(toMs !== undefined ? { toMs } : {}) };
      const out = str(v['out'], 'out', true);
      const file = exportTranscript(str(v['data-dir'], 'data-dir', true), selection, out, v['without-blobs'] !== true);
      process.stdout.write(`wrote ${out}: entries ${file.from}..${file.from + file.entries.length - 1} of ${file.logLength}\n`);
      if (file.blobsExported) process.stdout.write(`wrote ${file.blobsExported} blobs (bodies logged by digest) to ${blobDirOf(out)}\n`);
      if (file.blobsAbsent) process.stdout.write(`${file.blobsAbsent} blobs named by the export are not included (${v['without-blobs'] === true ? '--without-blobs' : 'deleted by the aggregator\'s --blob-retention-days'}): audit verify will say which checks it cannot run\n`);
      return 0;
    }
    if (sub === 'verify') {
      if (rest.length !== 1) throw new UsageError('audit verify takes exactly one transcript file');
      const schemaPath = str(v['schema'], 'schema');
      const analystsPath = str(v['analysts'], 'analysts');
      const blobDir = str(v['blobs'], 'blobs');
      const report = await verifyFiles({
        transcriptPath: rest[0]!, rosterPath: str(v['roster'], 'roster', true), ...(schemaPath !== undefined ? { schemaPath } : {}), ...(analystsPath !== undefined ? { analystsPath } : {}),
        receiptPaths: (v['receipts'] as string[] | undefined) ?? [], ...(blobDir !== undefined ? { blobDir } : {}),
      });
      process.stdout.write(formatReport(report) + '\n');
      return !report.ok ? 1 : report.unchecked?.length ? 3 : 0;
    }
    throw new UsageError(`expected "audit export" or "audit verify", got ${JSON.stringify(sub ?? '')}\nRun: blindsum audit --help`);
  },
};
