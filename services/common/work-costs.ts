/**
 * What one elementary operation of the protocols costs on this host, measured once per process
 * (a few tens of ms at start-up), so that round deadlines (services/aggregator/deadlines.ts) and
 * gRPC keepalive (grpc-options.ts) are sized from the work instead of fixed. Every estimate built
 * from these costs errs on the long side: a deadline too long only delays noticing a party that
 * is connected but silent (a party that leaves is noticed at once), while one too short drops
 * honest parties and fails the run (issue 14: the 30-party key ceremony never completed).
 */
import { availableParallelism } from 'node:os';
import { signDomain, generateIdentity, verifyDomain } from '../../crypto/identity.ts';
import { agree, generateX25519KeyPair } from '../../crypto/keyagreement.ts';
import { addMask } from '../../crypto/prg.ts';
import { sha256 } from '../../crypto/sha256.ts';

export interface WorkCosts {
  /** One BigInt multiply-add modulo a 60-bit prime (Shamir evaluation, RNS polynomial arithmetic), ms. */
  mulAddMs: number;
  /** One Ed25519 verification of a short message, ms. */
  verifyMs: number;
  /** One X25519 agreement with HKDF, ms. */
  agreeMs: number;
  /** Per byte signed, verified or hashed (envelopes, SHA-256 digests, AEAD), ms. */
  byteMs: number;
  /** Per byte of AES-256-CTR mask added into a vector (secure aggregation), ms. */
  prgByteMs: number;
}

/**
 * Costs of a slow host (a loaded 2-core VM with the portable noble backends), used when nothing
 * was measured (tests of the sizing rules) and as a floor for measured ones: a lucky quiet moment
 * during calibration must not shrink every deadline.
 */
export const FLOOR_COSTS: WorkCosts = Object.freeze({ mulAddMs: 1e-4, verifyMs: 0.15, agreeMs: 0.1, byteMs: 2e-6, prgByteMs: 5e-7 });

function best(repeats: number, f: () => void): number {
  let min = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    f();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

let measured: WorkCosts | undefined;

/** Measures each cost once (best of 3 short runs), never below FLOOR_COSTS; cached per process. */
export function measureWorkCosts(): WorkCosts {
  if (measured) return measured;
  const q = (1n << 60n) - 93n;
  const MUL = 20_000;
  const values = Array.from({ length: 16 }, (_, i) => (q >> 3n) + BigInt(i) * 7919n);
  let sink = 0n;
  const mulAddMs = best(3, () => {
    let acc = 1n;
    for (let i = 0; i < MUL; i++) acc = (acc * 29n + values[i & 15]!) % q;
    sink ^= acc;
  }) / MUL;
  const id = generateIdentity();
  const msg = new Uint8Array(64);
  const sig = signDomain(id.secretKey, 'blindsum/calibration', msg);
  const VERIFY = 8;
  const verifyMs = best(3, () => {
    for (let i = 0; i < VERIFY; i++) verifyDomain(id.publicKey, 'blindsum/calibration', msg, sig);
  }) / VERIFY;
  const a = generateX25519KeyPair();
  const b = generateX25519KeyPair();
  const info = new Uint8Array(16);
  const AGREE = 8;
  const agreeMs = best(3, () => {
    for (let i = 0; i < AGREE; i++) agree(a.secretKey, b.publicKey, info);
  }) / AGREE;
  const big = new Uint8Array(256 * 1024);
  const bigSig = signDomain(id.secretKey, 'blindsum/calibration', big);
  const byteMs = best(3, () => {
    verifyDomain(id.publicKey, 'blindsum/calibration', big, bigSig);
    sha256(big);
  }) / big.length;
  const target = new Uint32Array(64 * 1024);
  const seed = new Uint8Array(32).fill(7);
  const prgByteMs = best(3, () => addMask(target, seed, 32, 1)) / (target.length * 4);
  if (sink === -1n) throw new Error('unreachable');
  measured = Object.freeze({
    mulAddMs: Math.max(mulAddMs, FLOOR_COSTS.mulAddMs), verifyMs: Math.max(verifyMs, FLOOR_COSTS.verifyMs), agreeMs: Math.max(agreeMs, FLOOR_COSTS.agreeMs),
    byteMs: Math.max(byteMs, FLOOR_COSTS.byteMs), prgByteMs: Math.max(prgByteMs, FLOOR_COSTS.prgByteMs),
  });
  return measured;
}

/**
 * How much slower work runs because processes share this host's cores: every local party plus
 * the aggregator, plus the load average (other work on the host; it may already count some of
 * our own processes, which only errs on the long side), over the cores; ≥ 1.
 */
export function contentionFactor(processes: number, loadAverage: number, cores: number = availableParallelism()): number {
  return Math.max(1, (processes + loadAverage) / Math.max(1, cores));
}
