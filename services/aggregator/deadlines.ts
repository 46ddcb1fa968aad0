/**
 * Round deadlines sized from the work of the round (issue 14, item 7). A round's deadline is
 *
 *   base + SAFETY · contention · (party work + aggregator work)
 *
 * where `base` is the operator's --round-timeout-ms (network latency and slack), the work is
 * estimated from the protocol's shape (n parties, threshold t, ring degree N and levels L, vector
 * length, ring bytes) times the per-operation costs measured on this host
 * (services/common/work-costs.ts), and `contention` is how many processes share this host's
 * cores: every party connected over loopback runs its round on the aggregator's cores at the same
 * time (the local federation: 31 processes on 2 cores), and the load average counts other work.
 * The estimates are upper bounds by construction (each counts the operations of the round's
 * slowest step, with the floor costs of a slow host): a long deadline only delays noticing a
 * silent party, a short one fails the ceremony for everyone.
 */
import { availableParallelism, loadavg } from 'node:os';
import { contentionFactor, measureWorkCosts, type WorkCosts } from '../common/work-costs.ts';

/** Multiplies the estimated work: estimates are of CPU time, rounds also wait on I/O and scheduling. */
export const SAFETY = 3;
/** Deadlines never exceed an hour (the largest --round-timeout-ms accepted). */
export const MAX_DEADLINE_MS = 3_600_000;

/** CPU time of one round, ms: what each party computes, and what the aggregator computes for all of them. */
export interface RoundWork {
  partyMs: number;
  aggregatorMs: number;
}

export type CeremonyStage = 'CRSCommit' | 'CRSReveal' | 'CKGCommit' | 'CKGShare' | 'CKGConfirm';

export interface CeremonyShape {
  /** Parties in the ceremony. */
  n: number;
  /** Shamir threshold t (the degree of each party's sharing polynomial is t − 1). */
  t: number;
  /** Ring degree and key-level primes (a key-level polynomial has L·N coefficients). */
  N: number;
  L: number;
  /** The aggregator's measured time to load node-seal and build its context, ms (each party does it on its first CKKS message). */
  setupMs?: number;
}

/** The work of one key-ceremony round (crypto/ckks/ceremony.ts). */
export function ceremonyWork(stage: CeremonyStage, s: CeremonyShape, c: WorkCosts): RoundWork {
  const coeffs = s.L * s.N;
  const polyBytes = coeffs * 8;
  switch (stage) {
    case 'CRSCommit':
      return { partyMs: (s.setupMs ?? 0) + c.verifyMs + c.agreeMs, aggregatorMs: s.n * c.verifyMs };
    case 'CRSReveal':
      return { partyMs: s.n * c.verifyMs, aggregatorMs: s.n * c.verifyMs };
    case 'CKGCommit':
      // CRP, secret, CKG share (a few polynomial products), the n·t·L·N Shamir multiply-adds,
      // then one agreement and an AEAD of a polynomial per other party.
      return {
        partyMs: 40 * coeffs * c.mulAddMs + s.n * s.t * coeffs * c.mulAddMs + s.n * (c.agreeMs + 2 * polyBytes * c.byteMs),
        aggregatorMs: coeffs * c.mulAddMs + s.n * c.verifyMs,
      };
    case 'CKGShare':
      // Parties check n signed commitments; the aggregator verifies each party's envelope of
      // n polynomials, hashes each of them against its commitment and logs it.
      return { partyMs: s.n * c.verifyMs + 3 * s.n * polyBytes * c.byteMs, aggregatorMs: s.n * (c.verifyMs + 4 * s.n * polyBytes * c.byteMs + 2 * coeffs * c.mulAddMs) };
    case 'CKGConfirm':
      // The aggregator encodes and sends each party its CollectivePublicKey message of 2n − 1
      // polynomials (n CKG shares, n − 1 threshold shares); each party decodes it, parses and sums
      // the 2n − 1 polynomials (two BigInt passes each), recomputes the key, opens n − 1 AEADs.
      return {
        partyMs: 2 * s.n * (2 * coeffs * c.mulAddMs + 4 * polyBytes * c.byteMs) + 4 * coeffs * c.mulAddMs + s.n * c.agreeMs,
        aggregatorMs: s.n * (c.verifyMs + 2 * s.n * 3 * polyBytes * c.byteMs),
      };
  }
}

export type SecAggStage = 'AdvertiseKeys' | 'ShareKeys' | 'MaskedInputCollection' | 'ConsistencyCheck' | 'Unmasking';

export interface SecAggShape {
  n: number;
  t: number;
  /** Entries of the summed vector, and bytes per entry (4 or 8). */
  vectorLength: number;
  ringBytes: number;
  /** The aggregator's measured time to plan this query (each party plans it too before AdvertiseKeys), ms. */
  planMs?: number;
}

/** Bytes a party hashes and serializes per vector entry while planning and encoding its contribution. */
const PLAN_BYTES_PER_ENTRY = 200;

/** The work of one secure-aggregation round (crypto/secagg/client.ts, server.ts; Bonawitz et al.). */
export function secaggWork(stage: SecAggStage, s: SecAggShape, c: WorkCosts): RoundWork {
  const vectorBytes = s.vectorLength * s.ringBytes;
  switch (stage) {
    case 'AdvertiseKeys':
      // The party plans the query and computes its statistics (O(L)) before advertising keys.
      return { partyMs: 3 * (s.planMs ?? 0) + s.vectorLength * PLAN_BYTES_PER_ENTRY * c.byteMs + 2 * c.agreeMs + c.verifyMs, aggregatorMs: s.n * c.verifyMs };
    case 'ShareKeys':
      // n signature checks, n agreements, 2n Shamir shares of 32-byte secrets, n AEADs.
      return { partyMs: s.n * (c.verifyMs + c.agreeMs) + 2 * s.n * s.t * 32 * c.mulAddMs, aggregatorMs: s.n * (c.verifyMs + s.n * 256 * c.byteMs) };
    case 'MaskedInputCollection':
      // n − 1 pairwise masks and a self mask over the vector, then encoding and signing it; the
      // aggregator verifies, decodes, logs and adds n vectors (six passes over each).
      return { partyMs: s.n * (c.agreeMs + vectorBytes * c.prgByteMs) + 4 * vectorBytes * c.byteMs, aggregatorMs: s.n * (c.verifyMs + 6 * vectorBytes * c.byteMs) };
    case 'ConsistencyCheck':
      return { partyMs: c.verifyMs, aggregatorMs: s.n * c.verifyMs };
    case 'Unmasking':
      // Parties check n signatures; the aggregator reconstructs the seeds (n Shamir recoveries of
      // t shares) and removes n self masks (and, at worst, n pairwise masks per dropped party).
      return { partyMs: s.n * c.verifyMs, aggregatorMs: s.n * (s.t * s.t * 32 * c.mulAddMs + c.agreeMs + 2 * vectorBytes * c.prgByteMs) };
  }
}

export type CkksQueryStage = 'InputCommit' | 'EncryptedInput' | 'PCKSShare';

export interface CkksQueryShape {
  n: number;
  t: number;
  /** Plan entries, and the ciphertexts (and bytes of each, compact wire form) of one party's input. */
  entries: number;
  ciphertexts: number;
  ciphertextBytes: number;
  /** The aggregator's measured time to plan this query (each party plans it too), ms. */
  planMs?: number;
}

/**
 * node-seal costs per ciphertext at N = 8192 (bench/ckks-floors.ts on the loaded 2-core host:
 * encode + encrypt + wire packing 6–9 ms, PCKS share 10 ms, load + add 0.05–0.3 ms), rounded up
 * about twofold, since WorkCosts does not measure SEAL (loading it takes seconds).
 */
const CKKS_ENCRYPT_MS = 20;
const CKKS_PCKS_MS = 25;
const CKKS_ADD_MS = 1;

/** The work of one round of a CKKS query (services/aggregator/ckks/session.ts, pcks-round.ts). */
export function ckksQueryWork(stage: CkksQueryStage, s: CkksQueryShape, c: WorkCosts): RoundWork {
  const inputBytes = s.ciphertexts * s.ciphertextBytes;
  switch (stage) {
    case 'InputCommit':
      // The party plans, computes its statistics, encrypts and hashes its input before committing.
      return { partyMs: 3 * (s.planMs ?? 0) + s.entries * PLAN_BYTES_PER_ENTRY * c.byteMs + s.ciphertexts * CKKS_ENCRYPT_MS + inputBytes * c.byteMs + c.verifyMs, aggregatorMs: s.n * c.verifyMs };
    case 'EncryptedInput':
      // Parties check n signed commitments, then sign and send their chunks; the aggregator
      // validates, hashes, logs and adds n inputs.
      return { partyMs: s.n * c.verifyMs + 2 * inputBytes * c.byteMs, aggregatorMs: s.n * (s.ciphertexts * CKKS_ADD_MS + 4 * inputBytes * c.byteMs) };
    case 'PCKSShare':
      // Every decryptor verifies, hashes, validates and adds n inputs and computes a share per
      // ciphertext; the aggregator reads the chunks back, sends them to t decryptors and combines.
      return {
        partyMs: s.n * (s.ciphertexts * CKKS_ADD_MS + 3 * inputBytes * c.byteMs) + s.ciphertexts * CKKS_PCKS_MS,
        aggregatorMs: s.t * (2 * s.n * inputBytes * c.byteMs + s.ciphertexts * CKKS_ADD_MS),
      };
  }
}

/** base + SAFETY · contention · work, at most MAX_DEADLINE_MS, rounded up to a millisecond. */
export function deadlineMs(baseMs: number, work: RoundWork, contention: number): number {
  return Math.min(MAX_DEADLINE_MS, Math.ceil(baseMs + SAFETY * Math.max(1, contention) * (work.partyMs + work.aggregatorMs)));
}

/** Where the aggregator reads the host's contention (the gateway counts loopback parties). */
export interface HostView {
  loopbackCount(): number;
}

/** The aggregator's deadlines: its --round-timeout-ms as the base, the costs measured at start. */
export class RoundDeadlines {
  readonly baseMs: number;
  readonly costs: WorkCosts;
  readonly #host: HostView;
  readonly #cores: number;
  readonly #load: () => number;

  constructor(baseMs: number, host: HostView, o: { costs?: WorkCosts; cores?: number; loadAverage?: () => number } = {}) {
    this.baseMs = baseMs;
    this.#host = host;
    this.costs = o.costs ?? measureWorkCosts();
    this.#cores = o.cores ?? availableParallelism();
    this.#load = o.loadAverage ?? (() => loadavg()[0]!);
  }

  /** Local parties and the aggregator, plus the 1-minute load average, over the cores. */
  contention(): number {
    return contentionFactor(this.#host.loopbackCount() + 1, this.#load(), this.#cores);
  }

  ceremony(stage: CeremonyStage, shape: CeremonyShape): number {
    return deadlineMs(this.baseMs, ceremonyWork(stage, shape, this.costs), this.contention());
  }

  secagg(stage: SecAggStage, shape: SecAggShape): number {
    return deadlineMs(this.baseMs, secaggWork(stage, shape, this.costs), this.contention());
  }

  ckks(stage: CkksQueryStage, shape: CkksQueryShape): number {
    return deadlineMs(this.baseMs, ckksQueryWork(stage, shape, this.costs), this.contention());
  }
}
