/**
 * The auditor's recomputation of every CKKS homomorphic sum (docs/transcripts.md): from the
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
import { CkksContext } from '../../crypto/ckks/params.ts';
import { unpackCiphertext } from '../../crypto/ckks/wire.ts';
import { decodeEntry } from '../../crypto/transcript.ts';
import { fromUtf8 } from '../../crypto/bytes.ts';
import { PartyMessage, StartCeremony } from '../../gen/blindsum/v1/blindsum.ts';
import { CKKS_PARAMS, ckksParamsByName, ownBytes } from '../common/ckks.ts';
import { sumContributions, sumDigests } from '../common/ckks-inputs.ts';
import { CkksEntryKind } from '../common/ckks-kinds.ts';
import type { TranscriptFile } from './transcript-file.ts';
import type { VerifyFailureInfo } from './verify.ts';

export interface CkksSumCheck {
  /** Query ids whose homomorphic sums were recomputed and matched. */
  checked: string[];
  failure?: VerifyFailureInfo;
}

export async function recomputeCkksSums(file: TranscriptFile): Promise<CkksSumCheck> {
  const out: CkksSumCheck = { checked: [] };
  const entries = file.entries.map((l) => decodeEntry(l.entry));
  if (!entries.some((e) => e.kind === CkksEntryKind.PCKSRequest)) return out;
  // The parameter set comes from the key ceremony when the export holds it, else the federation default.
  let paramsName = CKKS_PARAMS.name;
  const contexts = new Map<string, CkksContext>();
  const inputs = new Map<string, Map<string, Uint8Array[]>>();
  try {
    for (const e of entries) {
      const at = (reason: string): CkksSumCheck => ({ ...out, failure: { index: e.index, kind: e.kind, reason } });
      if (e.kind === CkksEntryKind.StartCeremony) {
        paramsName = StartCeremony.decode(e.body).params || paramsName;
      } else if (e.kind === CkksEntryKind.EncryptedInput) {
        const body = PartyMessage.decode(e.body).body;
        if (body?.$case !== 'encryptedInput') return at('an encrypted-input entry that holds no EncryptedInput');
        const bySender = inputs.get(e.session) ?? new Map<string, Uint8Array[]>();
        bySender.set(e.sender, body.value.ciphertexts.map(ownBytes));
        inputs.set(e.session, bySender);
      } else if (e.kind === CkksEntryKind.PCKSRequest) {
        const rec = JSON.parse(fromUtf8(e.body)) as { contributors?: string[]; sumSha256?: string[] };
        const contributors = rec.contributors ?? [];
        const expected = rec.sumSha256 ?? [];
        const logged = inputs.get(e.session);
        if (!logged || contributors.some((p) => !logged.has(p))) {
          return at('the PCKS request names a contributor whose encrypted input is not in the exported transcript');
        }
        let ctx = contexts.get(paramsName);
        if (!ctx) {
          ctx = await CkksContext.create(ckksParamsByName(paramsName));
          contexts.set(paramsName, ctx);
        }
        const c = ctx;
        // The same function the aggregator and every decryptor use (services/common/ckks-inputs.ts).
        const got = sumDigests(sumContributions(c, contributors.map((p) => {
          const cts = logged.get(p)!;
          if (cts.length !== expected.length) throw new RangeError(`${p} logged ${cts.length} ciphertexts, the PCKS request names ${expected.length} sums`);
          return cts.map((ct, i) => unpackCiphertext(c, ct, `${p}.ciphertexts[${i}]`));
        })));
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
    return { ...out, failure: { index: -1, kind: CkksEntryKind.PCKSRequest, reason: `cannot recompute a homomorphic sum: ${(err as Error).message}` } };
  } finally {
    for (const c of contexts.values()) c[Symbol.dispose]();
  }
}
