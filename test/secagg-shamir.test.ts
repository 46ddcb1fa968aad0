import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { shamirCombine, shamirSplit } from '../crypto/shamir.ts';

function subsets<T>(items: T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (items.length < k) return [];
  const [first, ...rest] = items;
  return [...subsets(rest, k - 1).map((s) => [first!, ...s]), ...subsets(rest, k)];
}

const secret = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);

describe('Shamir over GF(2^8)', () => {
  it('every subset of size t reconstructs, for n = 5 and t = 1..5', () => {
    const xs = [1, 2, 3, 4, 5];
    for (let t = 1; t <= 5; t++) {
      const shares = shamirSplit(secret, t, xs);
      for (const subset of subsets(xs, t)) {
        expect(shamirCombine(subset.map((x) => ({ x, share: shares.get(x)! })), t)).toEqual(secret);
      }
    }
  });
  it('fewer than t distinct shares is a RangeError, and t-1 shares combined as if t-1 sufficed give the wrong secret', () => {
    const shares = shamirSplit(secret, 3, [1, 2, 3, 4, 5]);
    const two = [1, 4].map((x) => ({ x, share: shares.get(x)! }));
    expect(() => shamirCombine(two, 3)).toThrow(RangeError);
    expect(() => shamirCombine([...two, two[0]!], 3)).toThrow(RangeError);
    expect(shamirCombine(two, 2)).not.toEqual(secret);
  });
  it('uses exactly the first t distinct shares (a corrupted later share is ignored)', () => {
    const shares = shamirSplit(secret, 3, [1, 2, 3, 4]);
    const bad = shares.get(4)!.slice();
    bad[0]! ^= 0xff;
    const list = [3, 1, 2].map((x) => ({ x, share: shares.get(x)! }));
    expect(shamirCombine([...list, { x: 4, share: bad }], 3)).toEqual(secret);
  });
  it('x-coordinates up to 255 work; shares of a secret are as long as it', () => {
    const xs = [1, 128, 254, 255];
    const shares = shamirSplit(secret, 4, xs);
    for (const s of shares.values()) expect(s.length).toBe(32);
    expect(shamirCombine(xs.map((x) => ({ x, share: shares.get(x)! })), 4)).toEqual(secret);
  });
  it('validates x, duplicates, thresholds and lengths', () => {
    expect(() => shamirSplit(secret, 2, [0, 1])).toThrow(RangeError);
    expect(() => shamirSplit(secret, 2, [1, 256])).toThrow(RangeError);
    expect(() => shamirSplit(secret, 2, [1, 1, 2])).toThrow(RangeError);
    expect(() => shamirSplit(secret, 3, [1, 2])).toThrow(RangeError);
    expect(() => shamirSplit(secret, 0, [1, 2])).toThrow(RangeError);
    expect(() => shamirSplit(new Uint8Array(0), 1, [1])).toThrow(RangeError);
    const shares = shamirSplit(secret, 2, [1, 2]);
    expect(() => shamirCombine([{ x: 1, share: shares.get(1)! }, { x: 2, share: shares.get(2)!.subarray(1) }], 2)).toThrow(RangeError);
    expect(() => shamirCombine([{ x: 0, share: shares.get(1)! }, { x: 2, share: shares.get(2)! }], 2)).toThrow(RangeError);
    const other = shares.get(1)!.slice();
    other[5]! ^= 1;
    expect(() => shamirCombine([{ x: 1, share: shares.get(1)! }, { x: 1, share: other }], 2)).toThrow(RangeError);
  });
  it('property: random secret, n ≤ 12, t ≤ n, random t-subset reconstructs', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 255 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 12 }),
        fc.infiniteStream(fc.nat()),
        (s, xs, tRaw, rand) => {
          const t = 1 + ((tRaw - 1) % xs.length);
          const shares = shamirSplit(s, t, xs);
          const order = [...xs].sort(() => ((rand.next().value as number) % 3) - 1);
          const chosen = order.slice(0, t).map((x) => ({ x, share: shares.get(x)! }));
          expect(shamirCombine(chosen, t)).toEqual(s);
        },
      ),
      { seed: 5, numRuns: 300 },
    );
  });
});
