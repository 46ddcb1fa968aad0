/**
 * The demo's last step: export the aggregator's signed transcript and verify it offline, as an
 * auditor would with `blindsum audit export` and `blindsum audit verify` (docs/transcripts.md).
 */
import { join } from 'node:path';
import { exportTranscript, verifyFiles } from '../services/audit/audit.ts';
import { formatReport } from '../services/audit/verify.ts';
import type { LocalFederation } from './federation.ts';

/** Returns the number of failures (0 or 1). */
export async function auditDemo(fed: LocalFederation, schemaPath: string): Promise<number> {
  const path = join(fed.dir, 'transcript.json');
  process.stdout.write('Audit: the signed, hash-chained transcript of everything above, verified offline without trusting the aggregator\n');
  process.stdout.write(`  $ blindsum audit export --data-dir ${fed.aggregatorDataDir} --out ${path}\n`);
  const t0 = performance.now();
  const file = exportTranscript(fed.aggregatorDataDir, {}, path);
  const t1 = performance.now();
  process.stdout.write(`    ${file.entries.length} entries exported, ${file.blobsExported} blobs (bodies logged by digest) to ${path}.blobs (${((t1 - t0) / 1000).toFixed(2)} s)\n`);
  process.stdout.write(`  $ blindsum audit verify ${path} --roster ${fed.rosterPath} --analysts ${fed.analystsPath} --schema ${schemaPath} --receipts ${fed.receiptsDir}\n`);
  const report = await verifyFiles({ transcriptPath: path, rosterPath: fed.rosterPath, analystsPath: fed.analystsPath, schemaPath, receiptPaths: [fed.receiptsDir] });
  const t2 = performance.now();
  process.stdout.write(formatReport(report).split('\n').map((l) => `    ${l}`).join('\n') + `\n    (verified in ${((t2 - t1) / 1000).toFixed(2)} s)\n\n`);
  // The demo keeps every blob: a check that could not run is a failure here.
  return report.ok && !report.unchecked?.length ? 0 : 1;
}
