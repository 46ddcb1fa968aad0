/**
 * Transcript bytes of a CKKS query's payloads (docs/transcripts.md, "Blobs"): 3 parties each
 * encrypt L values under a collective key (real PackedEncryptor, CKKS_PARAMS, compact wire form)
 * and commit to them, and t = 2 decryptors each make a PCKS share of every ciphertext of the sum
 * (real pcksGenShare, packed as the party sends it). The InputCommit, EncryptedInput and PCKSShare
 * envelopes are signed and appended to the aggregator's real TranscriptLog twice in one run:
 * every body inline (the log before blobs), and with the blob kinds by digest. Only these
 * entries are logged (no ceremony, no protocol replay): the rest of a CKKS query's entries are
 * small and the same either way.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ckgGenPublicKey, ckgGenShare, genSecretKeyShare } from '../crypto/ckks/ckg.ts';
import { sampleCrp } from '../crypto/ckks/crs.ts';
import { PackedEncryptor, requiredLevel } from '../crypto/ckks/encoder.ts';
import { CkksContext } from '../crypto/ckks/params.ts';
import { pcksGenShare, serializePcksShare } from '../crypto/ckks/pcks.ts';
import { packCiphertext } from '../crypto/ckks/wire.ts';
import { signEnvelope, type Envelope } from '../crypto/transcript.ts';
import { PartyMessage } from '../gen/blindsum/v1/blindsum.ts';
import { TranscriptLog } from '../services/aggregator/transcript-log.ts';
import { CKKS_PARAMS, sha256Hex } from '../services/common/ckks.ts';
import { CkksEntryKind } from '../services/common/ckks-kinds.ts';
import { makeFederation } from './transcript-build.ts';

const PARTIES = ['hospital-1', 'hospital-2', 'hospital-3'];
const DECRYPTORS = 2;

function bytesOf(dir: string, names: readonly string[]): number {
  return names.reduce((n, f) => {
    try {
      return n + statSync(join(dir, f)).size;
    } catch {
      return n;
    }
  }, 0);
}

export async function benchTranscriptCkksBytes(length: number): Promise<string> {
  const fed = makeFederation(PARTIES, 2);
  const ctx = await CkksContext.create(CKKS_PARAMS);
  const envelopes: Envelope[] = [];
  const t0 = performance.now();
  let level = 0;
  let ciphertexts = 0;
  try {
    const crp = sampleCrp(ctx, new Uint8Array(32), 'ckg');
    const secret = genSecretKeyShare(ctx);
    const collective = ckgGenPublicKey(ctx, ckgGenShare(ctx, secret, crp), crp);
    const analyst = ckgGenPublicKey(ctx, ckgGenShare(ctx, genSecretKeyShare(ctx), crp), crp);
    level = requiredLevel(ctx, 2 ** 40); // sums up to 2^40 on the fixed-point grid
    const values = new Float64Array(length).fill(1);
    const sessionId = 'q-ckks-bytes';
    const sign = (i: number, kind: string, body: NonNullable<PartyMessage['body']>): void => {
      envelopes.push(signEnvelope(fed.ids[i]!.secretKey, kind, sessionId, PARTIES[i]!, PartyMessage.encode({ body }).finish()));
    };
    let sumNtt: Uint8Array[] = [];
    PARTIES.forEach((_, i) => {
      using enc = new PackedEncryptor(ctx, collective, level);
      const cts = enc.encrypt(values).map((c) => packCiphertext(ctx, c));
      ciphertexts = cts.length;
      sign(i, CkksEntryKind.InputCommit, { $case: 'inputCommit', value: { sessionId, ciphertextsSha256: cts.map(sha256Hex) } });
      sign(i, CkksEntryKind.EncryptedInput, { $case: 'encryptedInput', value: { sessionId, ciphertexts: cts, commitmentsSha256: '0'.repeat(64), offset: 0 } });
      if (i === 0) {
        using ntt = new PackedEncryptor(ctx, collective, level, { nttForm: true });
        sumNtt = ntt.encrypt(values); // stands in for the sum the decryptors key-switch (same level and size)
      }
    });
    for (let d = 0; d < DECRYPTORS; d++) {
      const shares = sumNtt.map((ct) => packCiphertext(ctx, serializePcksShare(ctx, pcksGenShare(ctx, secret, analyst, ct))));
      sign(d, CkksEntryKind.PCKSShare, {
        $case: 'pcksShare',
        value: { sessionId, shares, sumSha256: sumNtt.map(sha256Hex), contributors: PARTIES, decryptors: PARTIES.slice(0, DECRYPTORS), analystKeySha256: '0'.repeat(64), offset: 0 },
      });
    }
  } finally {
    ctx[Symbol.dispose]();
  }
  const makeMs = performance.now() - t0;
  const measure = (inline: boolean): { log: number; blobs: number; files: number } => {
    const dir = mkdtempSync(join(tmpdir(), 'blindsum-bench-ckks-transcript-'));
    try {
      mkdirSync(dir, { recursive: true });
      const log = TranscriptLog.open(dir, fed.federation, { id: fed.aggregator, identity: fed.agg }, inline ? { byDigest: () => false } : {});
      for (const e of envelopes) log.appendParty(e);
      log.close();
      const blobDir = join(dir, 'transcript-blobs');
      const blobFiles = readdirSync(blobDir);
      return { log: bytesOf(dir, ['transcript.sqlite', 'transcript.sqlite-wal']), blobs: bytesOf(blobDir, blobFiles), files: blobFiles.length };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const before = measure(true);
  const after = measure(false);
  const mib = (n: number): string => (n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`);
  return `  CKKS (${CKKS_PARAMS.name}, level ${level}): ${PARTIES.length} parties × ${length.toLocaleString('en')} values = ${ciphertexts} ciphertexts each, ${DECRYPTORS} PCKS shares of each; ` +
    `its ${envelopes.length} payload entries (InputCommit, EncryptedInput, PCKSShare): transcript.sqlite ${mib(before.log)} inline → ${mib(after.log)} by digest ` +
    `(${(before.log / Math.max(after.log, 1)).toFixed(0)}×); blobs ${mib(after.blobs)} in ${after.files} files (made in ${(makeMs / 1000).toFixed(1)} s)\n`;
}
