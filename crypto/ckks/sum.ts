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

  constructor(ctx: CkksContext, positions: number) {
    if (!Number.isSafeInteger(positions) || positions < 1) throw new RangeError(`positions: expected a positive integer, got ${positions}`);
    this.ctx = ctx;
    this.positions = positions;
    this.#evaluator = this.#scope.track(new ctx.seal.Evaluator(ctx.context));
    this.#next = this.#scope.track(new ctx.seal.Ciphertext());
    this.#acc = new Array<Ciphertext | undefined>(positions);
    this.#meta = new Array<CiphertextMeta | undefined>(positions);
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
