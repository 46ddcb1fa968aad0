/**
 * How a plan's fixed-point sums are laid out in CKKS values (services/common/ckks.ts adds the
 * ciphertext level): what needs only the plan and the schema's bounds, not SEAL. A party computes
 * it, and its values, on its statistics thread (services/party/stats-worker.ts), which never loads
 * node-seal; this module imports nothing from crypto/ckks.
 */
import { releasedStdDev } from '../../crypto/dp/distributed.ts';
import type { NoisePlan, Plan, Schema } from '../../stats/index.ts';

const TWO32 = 1n << 32n;

/** How a plan's sums travel as CKKS values (public: the plan and the schema's bounds only, no SEAL). */
export interface CkksValueLayout {
  /** Number of statistics (plan entries). */
  entries: number;
  /** 1: value i is sum i; 2: values [0, m) are the low 32-bit limbs (0 ≤ lo < 2^32), [m, 2m) the high limbs. */
  limbs: 1 | 2;
  /** CKKS values per party: entries × limbs. */
  length: number;
  /** Largest |sum of one CKKS value over all parties| the bounds allow. */
  maxAbsSum: number;
}

/**
 * The value layout of a plan's sums: |sum| ≤ parties × maxRowsPerParty × ⌈bound·2^scale⌉, plus 8
 * standard deviations of every party's DP noise (the same headroom `planNoise` checks against the
 * ring). Up to 2^53 − 1 one value per sum; beyond, two 32-bit limbs whose sums stay below
 * parties·2^32 whatever the data. O(entries), and it needs no SEAL context: a party computes it on
 * its statistics thread (services/party/stats-worker.ts), which never loads node-seal.
 */
export function ckksValueLayout(plan: Plan, schema: Schema, noise?: NoisePlan): CkksValueLayout {
  const rows = plan.parties * schema.maxRowsPerParty;
  let maxAbs = 0;
  plan.entries.forEach((e, i) => {
    const term = Math.ceil(e.bound * 2 ** plan.scaleBits[i]!);
    const headroom = noise ? 8 * releasedStdDev(noise.perEntry[i]!.noise, plan.parties) : 0;
    maxAbs = Math.max(maxAbs, rows * term + headroom);
  });
  const entries = plan.entries.length;
  const oneValue = maxAbs <= Number.MAX_SAFE_INTEGER;
  const limbs: 1 | 2 = oneValue ? 1 : 2;
  const maxAbsSum = oneValue ? Math.ceil(maxAbs) : plan.parties * 2 ** 32;
  return { entries, limbs, length: entries * limbs, maxAbsSum };
}

/**
 * A party's (noisy) sums as CKKS values (safe integers), per the layout; with `add`, the values of
 * sums[i] + add[i] (exact BigInt addition: the noise share, added without wrapping). O(entries).
 */
export function toCkksValues(layout: CkksValueLayout, sums: ArrayLike<bigint>, add?: ArrayLike<bigint>): Float64Array {
  if (sums.length !== layout.entries) throw new RangeError(`sums: expected ${layout.entries} entries, got ${sums.length}`);
  if (add && add.length !== layout.entries) throw new RangeError(`noise: expected ${layout.entries} entries, got ${add.length}`);
  const out = new Float64Array(layout.length);
  const maxSafe = BigInt(Number.MAX_SAFE_INTEGER);
  for (let i = 0; i < layout.entries; i++) {
    const s = add ? sums[i]! + add[i]! : sums[i]!;
    if (layout.limbs === 1) {
      if (s > maxSafe || s < -maxSafe) {
        throw new RangeError(`sums[${i}] is beyond 2^53 − 1, outside the bounds of the plan`); // the value is data: not quoted
      }
      out[i] = Number(s);
      continue;
    }
    if (s >= 1n << 63n || s < -(1n << 63n)) throw new RangeError(`sums[${i}]: beyond the 64-bit range of the plan`);
    const lo = ((s % TWO32) + TWO32) % TWO32;
    out[i] = Number(lo);
    out[layout.entries + i] = Number((s - lo) / TWO32);
  }
  return out;
}
