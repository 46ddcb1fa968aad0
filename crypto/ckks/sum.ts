/**
 * The homomorphic sum of many ciphertexts, position by position, on SEAL's evaluator in place:
 * each received ciphertext is loaded once (SEAL's own load checks every residue) and added into
 * a per-position accumulator that stays in SEAL's memory; nothing is saved until the sums are
 * read. Modular addition is exact, commutative and associative, so the bytes of a sum do not
 * depend on the order of the additions: every side (aggregator, decryptors, auditor) gets the
 * same sum and the same SHA-256.
 */
import { parseCiphertextMeta, type CiphertextMeta } from './codec.ts';
import { saveBytes } from './objects.ts';
import type { CkksContext } from './params.ts';
import { SealScope } from './seal.ts';
import type { Ciphertext, Evaluator } from './seal.ts';

export class CiphertextAccumulator implements Disposable {
  readonly ctx: CkksContext;
  readonly positions: number;
  #scope = new SealScope();
  #evaluator: Evaluator;
  #acc: (Ciphertext | undefined)[];
  #meta: (CiphertextMeta | undefined)[];
  #next: Ciphertext;
  #added = 0;
  /** Ciphertexts in the sum at each position (added minus taken out). */
  #count: Uint32Array;

  constructor(ctx: CkksContext, positions: number) {
    if (!Number.isSafeInteger(positions) || positions < 1) throw new RangeError(`positions: expected a positive integer, got ${positions}`);
    this.ctx = ctx;
    this.positions = positions;
    this.#evaluator = this.#scope.track(new ctx.seal.Evaluator(ctx.context));
    this.#next = this.#scope.track(new ctx.seal.Ciphertext());
    this.#acc = new Array<Ciphertext | undefined>(positions);
    this.#meta = new Array<CiphertextMeta | undefined>(positions);
    this.#count = new Uint32Array(positions);
  }

  /** Ciphertexts added so far (all positions). */
  get added(): number {
    return this.#added;
  }

  /**
   * Adds SEAL ciphertext bytes at `position`. The header is checked here (level, size, form and
   * scale must match the first ciphertext at that position), the residues by SEAL's load.
   */
  add(position: number, sealBytes: Uint8Array, field = 'ciphertext'): void {
    if (!Number.isInteger(position) || position < 0 || position >= this.positions) {
      throw new RangeError(`position: expected 0..${this.positions - 1}, got ${position}`);
    }
    const meta = parseCiphertextMeta(this.ctx, sealBytes, field);
    const first = this.#meta[position];
    if (first && (meta.level !== first.level || meta.size !== first.size || meta.isNttForm !== first.isNttForm || meta.scale !== first.scale || meta.correctionFactor !== first.correctionFactor)) {
      throw new RangeError(`${field}: level, size, form or scale differ from the other ciphertexts at position ${position}`);
    }
    if (!this.#acc[position]) {
      const ct = this.#scope.track(new this.ctx.seal.Ciphertext());
      ct.loadFromArray(this.ctx.context, sealBytes);
      this.#acc[position] = ct;
      this.#meta[position] = meta;
      this.#added++;
      this.#count[position] = 1;
    } else {
      this.#next.loadFromArray(this.ctx.context, sealBytes);
      this.addLoaded(position, this.#next);
    }
  }

  /**
   * Adds a ciphertext already in SEAL's memory at `position` (Evaluator.addInplace: SEAL checks
   * that parameters, form and scale match). The position must hold one already.
   */
  addLoaded(position: number, ct: Ciphertext): void {
    const acc = this.#acc[position];
    if (!acc) throw new RangeError(`position ${position}: add the first ciphertext as bytes`);
    this.#evaluator.addInplace(acc, ct);
    this.#added++;
    this.#count[position]!++;
  }

  /**
   * Takes SEAL ciphertext bytes added before at `position` out of the sum again (a contributor
   * whose input stayed incomplete). The caller guarantees they were added; once a position holds
   * no ciphertext it is empty again (SEAL refuses a transparent difference).
   */
  sub(position: number, sealBytes: Uint8Array): void {
    const acc = this.#acc[position];
    if (!acc || this.#count[position] === 0) throw new RangeError(`position ${position}: nothing to take out`);
    if (this.#count[position] === 1) {
      acc.delete();
      this.#acc[position] = undefined;
      this.#meta[position] = undefined;
      this.#count[position] = 0;
      return;
    }
    this.#next.loadFromArray(this.ctx.context, sealBytes);
    this.#evaluator.subInplace(acc, this.#next);
    this.#count[position]!--;
  }

  /**
   * The sums as SEAL bytes, in NTT form when `ntt` (SEAL's forward NTT, deterministic) — what
   * PCKS shares are computed on — or in the inputs' form otherwise. Every position must hold at
   * least one ciphertext. The accumulators are transformed in place: read the sums once.
   */
  sums(ntt = true): Uint8Array[] {
    return Array.from(this.#acc, (acc, c) => {
      if (!acc) throw new RangeError(`position ${c}: no ciphertext was added`);
      if (ntt && !acc.isNttForm()) this.#evaluator.cipherTransformToNttInplace(acc);
      return saveBytes(this.ctx, acc, 'sum');
    });
  }

  [Symbol.dispose](): void {
    this.#scope[Symbol.dispose]();
  }
}
