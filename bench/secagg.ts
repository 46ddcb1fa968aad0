/**
 * Secure-aggregation benchmark: one party's masking (maskedInput: share decryption, pairwise and
 * self masks), the aggregator's finish (no dropout / one party dropped after ShareKeys), against
 * the floor: node:crypto AES-256-CTR producing the same number of keystream bytes.
 * Run: ./node_modules/.bin/node bench/run.ts
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { generateIdentity } from '../crypto/identity.ts';
import { addMask, expandMask } from '../crypto/prg.ts';
import { SecAggClient, SecAggServer } from '../crypto/secagg/client.ts';
import type { PartyId, SecAggParams } from '../crypto/secagg/client.ts';
import { agree, generateX25519KeyPair } from '../crypto/keyagreement.ts';

const ZERO = new Uint8Array(64 * 1024);

/** Wall-clock ms. The machines here are shared: every figure is a minimum over repetitions. */
function now(): number {
  return performance.now();
}

/** Repetitions so that one batch of `f` lasts ≥ 20 ms. */
function calibrate(f: () => void): number {
  let reps = 1;
  for (;;) {
    const t0 = now();
    for (let i = 0; i < reps; i++) f();
    if (now() - t0 >= 20 || reps >= 1 << 12) return reps;
    reps *= 2;
  }
}

/**
 * Best per-call time of each function over 7 rounds; in every round each function runs one
 * batch, interleaved, so that a ratio compares measurements taken under the same load.
 */
function best(...fs: (() => void)[]): number[] {
  const reps = fs.map(calibrate);
  const min = fs.map(() => Infinity);
  for (let round = 0; round < 7; round++) {
    fs.forEach((f, j) => {
      const t0 = now();
      for (let i = 0; i < reps[j]!; i++) f();
      min[j] = Math.min(min[j]!, (now() - t0) / reps[j]!);
    });
  }
  return min;
}

/** Produces `seeds` keystreams of `words` u32 words each (64 KiB chunks, output discarded). */
function floorTask(seeds: number, words: number): () => void {
  const keys = Array.from({ length: seeds }, () => randomBytes(32));
  const iv = new Uint8Array(16);
  return () => {
    for (const k of keys) {
      const c = createCipheriv('aes-256-ctr', k, iv);
      for (let b = 0; b < 4 * words; b += ZERO.length) c.update(b + ZERO.length <= 4 * words ? ZERO : ZERO.subarray(0, 4 * words - b));
    }
  };
}

/** addMask alone for `seeds` masks on one vector (what masking costs beyond key agreement). */
function addMaskTask(seeds: number, words: number, ringBits: 32 | 64): () => void {
  const keys = Array.from({ length: seeds }, () => new Uint8Array(randomBytes(32)));
  const v = new Uint32Array(words);
  return () => {
    for (let i = 0; i < keys.length; i++) addMask(v, keys[i]!, ringBits, i % 2 ? 1 : -1);
  };
}

interface Run { maskMs: number[]; finishMs: number; ok: boolean }

function run(n: number, vectorLength: number, ringBits: 32 | 64, dropOne: boolean): Run {
  const parties: PartyId[] = Array.from({ length: n }, (_, i) => `p${String(i).padStart(3, '0')}`);
  const params: SecAggParams = { sessionId: `bench-${n}-${vectorLength}`, parties, threshold: Math.max(2, Math.floor((2 * n) / 3)), ringBits, vectorLength };
  const ids = new Map(parties.map((p) => [p, generateIdentity()]));
  const roster = new Map(parties.map((p) => [p, ids.get(p)!.publicKey]));
  const clients = parties.map((p) => new SecAggClient(params, p, ids.get(p)!.secretKey, roster));
  const server = new SecAggServer(params, roster);
  for (const c of clients) server.receiveAdvertiseKeys(c.advertiseKeys());
  const u1 = server.closeAdvertiseKeys();
  for (const c of clients) server.receiveShareKeys(c.shareKeys(u1));
  const routed = server.closeShareKeys();
  const words = vectorLength * (ringBits / 32);
  const live = dropOne ? clients.slice(1) : clients;
  const maskMs: number[] = [];
  const expected = new Uint32Array(words);
  for (const c of live) {
    const input = expandMask(new Uint8Array(32).fill(maskMs.length + 1), words);
    const t0 = now();
    const y = c.maskedInput(routed.get(c.party)!, input);
    maskMs.push(now() - t0);
    server.receiveMaskedInput(y);
    addMask(expected, new Uint8Array(32).fill(maskMs.length), ringBits, 1);
  }
  const u3 = server.closeMaskedInputCollection();
  for (const c of live) server.receiveConsistencyCheck(c.consistencyCheck(u3));
  const req = server.closeConsistencyCheck();
  for (const c of live) server.receiveUnmasking(c.unmask(req));
  const t0 = now();
  const sum = server.finish();
  const finishMs = now() - t0;
  let ok = sum.length === expected.length;
  for (let i = 0; ok && i < sum.length; i++) ok = sum[i] === expected[i];
  return { maskMs, finishMs, ok };
}

function fmt(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

export async function benchSecAgg(): Promise<void> {
  // X25519 + HKDF cost (node:crypto where available, crypto/keyagreement.ts), the fixed part of masking that the PRG floor does not include.
  const a = generateX25519KeyPair();
  const b = generateX25519KeyPair();
  const info = new Uint8Array(8);
  const [agreeMs] = best(() => agree(a.secretKey, b.publicKey, info));
  console.log(`\nsecure aggregation (Bonawitz et al.) — Node ${process.versions.node}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log('wall-clock ms, minimum over repetitions (shared machine); X25519+HKDF agree (node:crypto): ' + agreeMs!.toFixed(2) + ' ms each');
  console.log('mask = one party\'s maskedInput, fastest of the parties of both runs: n-1 share decryptions, n-1 agreements, n PRG masks');
  console.log('addMask = the n PRG masks alone; floor = node:crypto AES-256-CTR producing the same keystream bytes (best of 7 batches, interleaved with addMask)');
  console.log('finish = aggregator unmasking (single measurement); drop1 = one party dropped after ShareKeys (its n-1 pairwise masks removed too)');
  console.log('t = max(2, floor(2n/3)); sum ok = the result equals the plain sum of the inputs of U3.\n');
  const header = ['ring', 'n', 'length', 'mask ms', 'addMask ms', 'floor ms', 'mask/floor', 'addMask/floor', 'finish ms', 'floor ms', 'ratio', 'finish drop1 ms', 'floor ms', 'ratio', 'sum ok'];
  const rows: string[][] = [header];
  const cells: [32 | 64, number, number][] = [];
  for (const len of [1e3, 1e5, 1e6]) for (const n of [3, 10, 30]) cells.push([32, n, len]);
  for (const n of [3, 10, 30]) cells.push([64, n, 1e6]);
  for (const [ringBits, n, len] of cells) {
    const words = len * (ringBits / 32);
    const full = run(n, len, ringBits, false);
    const drop = run(n, len, ringBits, true);
    const mask = Math.min(...full.maskMs, ...drop.maskMs);
    const [addOnly, maskFloor, dropFloor] = best(addMaskTask(n, words, ringBits), floorTask(n, words), floorTask(2 * (n - 1), words));
    const finFloor = maskFloor!;
    rows.push([
      String(ringBits), String(n), len.toExponential(0).replace('e+', 'e'), fmt(mask), fmt(addOnly), fmt(maskFloor),
      (mask / maskFloor).toFixed(2), (addOnly / maskFloor).toFixed(2),
      fmt(full.finishMs), fmt(finFloor), (full.finishMs / finFloor).toFixed(2),
      fmt(drop.finishMs), fmt(dropFloor), (drop.finishMs / dropFloor).toFixed(2),
      full.ok && drop.ok ? 'yes' : 'NO',
    ]);
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i]!)).join('  '));
}
