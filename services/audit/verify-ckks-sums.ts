/**
 * The auditor's recomputation of every collective CKKS key and every homomorphic sum
 * (docs/transcripts.md, docs/ckks-backend.md §5).
 *
 * Key: from the logged CRS commitments and nonces (the CRS, crypto/ckks/crs.ts) and the CKG
 * shares the parties signed into the transcript (each opening its signed commitment, checked by
 * verify-ckks.ts), recompute (Σ p_j, a) and compare its SHA-256 with the aggregator's
 * CollectivePublicKey record (which every party's confirmation names): an aggregator that had the
 * parties accept a key other than the sum of the committed shares is caught there.
 *
 * Sums: from the
 * encrypted inputs the parties signed into the transcript, add the ciphertexts of exactly the
 * contributors the PCKS request names, bring the sum to NTT form as the aggregator does, and
 * compare its SHA-256 with the sum the aggregator asked the decryptors to key-switch. Both steps
 * are deterministic (SEAL's addition and NTT), so an aggregator that had the parties decrypt
 * anything but the sum of the logged inputs is caught at that PCKS request.
 *
 * Separate from verify.ts because it needs node-seal (asynchronous to load, and only when the
 * transcript holds CKKS queries). The signatures, order and contributor sets of these entries are
 * checked by verify.ts / verify-ckks.ts first.
 */
import { ckgAggregateShares, ckgGenPublicKey, parseCkgShare, type CKGShare } from '../../crypto/ckks/ckg.ts';
import { crsSeed, sampleCrp } from '../../crypto/ckks/crs.ts';
import { CkksContext } from '../../crypto/ckks/params.ts';
import { packedMeta } from '../../crypto/ckks/wire.ts';
import { fromUtf8 } from '../../crypto/bytes.ts';
import { CRSCommitments, CRSNonces, PartyMessage, StartCeremony } from '../../gen/blindsum/v1/blindsum.ts';
import { CKKS_PARAMS, ckksParamsByName, ownBytes, sha256Hex } from '../common/ckks.ts';
import { ContributionSum, sumDigests } from '../common/ckks-inputs.ts';
import { CkksEntryKind } from '../common/ckks-kinds.ts';
import { exportedEntries, type TranscriptFile } from '../common/transcript-file.ts';
import type { BlobSource } from '../common/blobs.ts';
import type { VerifyFailureInfo } from './verify-report.ts';

export interface CkksSumCheck {
  /** Query ids whose homomorphic sums were recomputed and matched. */
  checked: string[];
  /** Query ids whose sums could not be recomputed: an input is logged by digest and its blob is absent. */
  skipped: string[];
  /** Ceremony ids whose collective key was recomputed and matched. */
  keys: string[];
  failure?: VerifyFailureInfo;
}

export async function recomputeCkksSums(file: TranscriptFile, blobs: BlobSource | undefined = file.blobs): Promise<CkksSumCheck> {
  const out: CkksSumCheck = { checked: [], skipped: [], keys: [] };
  const entries = exportedEntries(file, blobs);
  /** Sessions with an encrypted input whose blob is absent (verify.ts reports it). */
  const absent = new Set<string>();
  if (!entries.some((e) => e.kind === CkksEntryKind.PCKSRequest || e.kind === CkksEntryKind.CollectivePublicKey)) return out;
  // The parameter set comes from the key ceremony when the export holds it, else the federation default.
  let paramsName = CKKS_PARAMS.name;
  const contexts = new Map<string, CkksContext>();
  const inputs = new Map<string, Map<string, Uint8Array[]>>();
  const ceremonies = new Map<string, { parties: string[]; commitments: Map<string, Uint8Array>; nonces: Map<string, Uint8Array>; shares: Map<string, Uint8Array> }>();
  const context = async (name: string): Promise<CkksContext> => {
    let ctx = contexts.get(name);
    if (!ctx) {
      ctx = await CkksContext.create(ckksParamsByName(name));
      contexts.set(name, ctx);
    }
    return ctx;
  };
  try {
    for (const e of entries) {
      const at = (reason: string): CkksSumCheck => ({ ...out, failure: { index: e.index, kind: e.kind, reason } });
      const cer = ceremonies.get(e.session);
      if (e.kind === CkksEntryKind.StartCeremony) {
        const m = StartCeremony.decode(e.body);
        paramsName = m.params || paramsName;
        ceremonies.set(e.session, { parties: [...m.parties], commitments: new Map(), nonces: new Map(), shares: new Map() });
      } else if (e.kind === CkksEntryKind.CRSCommitments && cer) {
        for (const c of CRSCommitments.decode(e.body).commits) cer.commitments.set(c.partyId, ownBytes(c.commitment));
      } else if (e.kind === CkksEntryKind.CRSNonces && cer) {
        for (const n of CRSNonces.decode(e.body).nonces) cer.nonces.set(n.partyId, ownBytes(n.nonce));
      } else if (e.kind === CkksEntryKind.CKGShare && cer) {
        const body = PartyMessage.decode(e.body).body;
        if (body?.$case !== 'ckgShare') return at('a CKG-share entry that holds no CKGShare');
        cer.shares.set(e.sender, ownBytes(body.value.share));
      } else if (e.kind === CkksEntryKind.CollectivePublicKey && cer) {
        const rec = JSON.parse(fromUtf8(e.body)) as { publicKeySha256?: string };
        const missing = cer.parties.find((p) => !cer.commitments.has(p) || !cer.nonces.has(p) || !cer.shares.has(p));
        if (missing) return at(`cannot recompute the collective key: the CRS commitment, nonce or CKG share of ${missing} is not in the exported transcript`);
        const ctx = await context(paramsName);
        let key: Uint8Array;
        try {
          const seed = crsSeed(cer.parties.map((p) => cer.nonces.get(p)!), cer.parties.map((p) => cer.commitments.get(p)!));
          const crp = sampleCrp(ctx, seed, `ckg/${e.session}`);
          let sum: CKGShare | undefined;
          for (const p of cer.parties) {
            const share = parseCkgShare(ctx, cer.shares.get(p)!);
            sum = sum ? ckgAggregateShares(ctx, sum, share) : share;
          }
          key = ckgGenPublicKey(ctx, sum!, crp);
        } catch (err) {
          return at(`cannot recompute the collective key from the logged CRS nonces and CKG shares: ${(err as Error).message}`);
        }
        if (sha256Hex(key) !== rec.publicKeySha256) {
          return at(`the collective key the aggregator recorded (and the parties confirmed) is not (Σ p_j, a) for the logged, committed CKG shares of ${cer.parties.join(', ')} and the CRS from the logged nonces`);
        }
        out.keys.push(e.session);
      } else if (e.kind === CkksEntryKind.EncryptedInput && e.blobAbsent) {
        absent.add(e.session);
      } else if (e.kind === CkksEntryKind.EncryptedInput) {
        const body = PartyMessage.decode(e.body).body;
        if (body?.$case !== 'encryptedInput') return at('an encrypted-input entry that holds no EncryptedInput');
        // Chunks in log order (verify-ckks.ts checked their offsets against StartSession).
        const bySender = inputs.get(e.session) ?? new Map<string, Uint8Array[]>();
        if (!bySender.has(e.sender)) bySender.set(e.sender, []);
        bySender.get(e.sender)!.push(...body.value.ciphertexts.map(ownBytes));
        inputs.set(e.session, bySender);
      } else if (e.kind === CkksEntryKind.PCKSRequest) {
        const rec = JSON.parse(fromUtf8(e.body)) as { contributors?: string[]; sumSha256?: string[] };
        const contributors = rec.contributors ?? [];
        const expected = rec.sumSha256 ?? [];
        const logged = inputs.get(e.session);
        if (absent.has(e.session)) {
          if (!out.skipped.includes(e.session)) out.skipped.push(e.session);
          continue;
        }
        if (!logged || contributors.some((p) => !logged.has(p))) {
          return at('the PCKS request names a contributor whose encrypted input is not in the exported transcript');
        }
        const c = await context(paramsName);
        // The same summation the aggregator and every decryptor use, one contributor at a time.
        let got: string[];
        {
          using sum = new ContributionSum(c, expected.length);
          for (const p of contributors) {
            const cts = logged.get(p)!;
            if (cts.length !== expected.length) throw new RangeError(`${p} logged ${cts.length} ciphertexts, the PCKS request names ${expected.length} sums`);
            sum.addPacked(c, { ciphertexts: expected.length, level: packedMeta(c, cts[0]!, `${p}.ciphertexts[0]`).level }, cts, `${p}.ciphertexts`);
          }
          got = sumDigests(sum.sums());
        }
        for (let i = 0; i < expected.length; i++) {
          if (got[i] !== expected[i]) {
            return at(`ciphertext ${i}: the homomorphic sum of the logged encrypted inputs of ${contributors.join(', ')} is not the sum the aggregator asked the decryptors to key-switch`);
          }
        }
        if (!out.checked.includes(e.session)) out.checked.push(e.session);
      }
    }
    return out;
  } catch (err) {
    return { ...out, failure: { index: -1, kind: CkksEntryKind.PCKSRequest, reason: `cannot recompute a collective key or a homomorphic sum: ${(err as Error).message}` } };
  } finally {
    for (const c of contexts.values()) c[Symbol.dispose]();
  }
}
