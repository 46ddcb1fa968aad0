/**
 * Communication and cost of a training round's distributed discrete noise (docs/training.md
 * § Distributed noise): for the models of the flchain example (logistic regression and an MLP
 * [16, 8] over 5 features) and for larger vectors, the bits per coordinate b the plan chooses for
 * n ∈ {3, 10, 100, 1000} parties, against float32 (32) and TensorFlow Federated's figures (~12 bits
 * for ~100 clients, ~16 for ~1000); and the time to encode one party's update (rotation,
 * conditional rounding, Skellam share, wrap) and to decode a sum, against the floor of the CSPRNG
 * bytes of one 64-bit draw per coordinate (node:crypto), measured in the same run.
 *   npm run bench -- ddp
 */
import { randomFillSync } from 'node:crypto';
import { cryptoRandomSource } from '../crypto/dp/random.ts';
import { decodeSum, encodeUpdate, planDdp } from '../crypto/dp/ddp-plan.ts';
import { parameterCount } from '../stats/train/index.ts';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(fn: () => void, reps: number): number {
  const t: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

export async function benchDdp(): Promise<void> {
  const d5 = 5; // flchain: age, sexM, creatinine, kappa, lambda
  const models: [string, number][] = [
    ['logistic regression (flchain, 5 features)', parameterCount({ type: 'logistic' }, d5)],
    ['MLP [16, 8] (flchain, 5 features)', parameterCount({ type: 'mlp', hidden: [16, 8] }, d5)],
    ['a vector of 10^4', 10_000],
    ['a vector of 10^5', 100_000],
  ];
  console.log('\n## Training rounds: bits per coordinate of the distributed discrete noise (C = 1, z = 1, t = ⌈2n/3⌉, c = 0)\n');
  console.log('| model | d | D | n = 3 | n = 10 | n = 100 | n = 1000 | float32 | TFF (docs) |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const [name, d] of models) {
    const bits = [3, 10, 100, 1000].map((n) => planDdp({ d, clip: 1, parties: n, threshold: Math.ceil((2 * n) / 3), noiseMultiplier: 1 }));
    console.log(`| ${name} | ${d} | ${bits[0]!.D} | ${bits.map((p) => p.bits).join(' | ')} | 32 | ~12 (100), ~16 (1000) |`);
  }
  console.log('\n## Encoding one party\'s update and decoding a sum (n = 10, t = 7; one unit per party; median of 5)\n');
  console.log('| d | encode ms | decode ms | CSPRNG 8 B/coordinate ms (floor) | encode / floor |');
  console.log('|---|---|---|---|---|');
  const rng = cryptoRandomSource();
  const seed = new Uint8Array(32).fill(7);
  for (const d of [1_000, 10_000, 100_000]) {
    const plan = planDdp({ d, clip: 1, parties: 10, threshold: 7, noiseMultiplier: 1 });
    const unit = new Float64Array(d).map((_, i) => Math.sin(i) / Math.sqrt(d));
    let enc: BigInt64Array = new BigInt64Array(0);
    const e = time(() => (enc = encodeUpdate(plan, [unit], seed, rng) as BigInt64Array), 5);
    const sum = new BigInt64Array(enc.length);
    for (let k = 0; k < 7; k++) for (let i = 0; i < enc.length; i++) sum[i] = BigInt.asIntN(64, sum[i]! + enc[i]!);
    const dec = time(() => decodeSum(plan, sum, seed, 7), 5);
    // Floor: the CSPRNG bytes of one 64-bit draw per coordinate (node:crypto), what any exact noise needs at least.
    const floor = time(() => randomFillSync(new Uint8Array(plan.D * 8)), 5);
    console.log(`| ${d} | ${e.toFixed(2)} | ${dec.toFixed(2)} | ${floor.toFixed(3)} | ${(e / Math.max(floor, 1e-3)).toFixed(0)}× |`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchDdp();
