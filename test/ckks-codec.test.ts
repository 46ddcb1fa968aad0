import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parseCiphertext,
  parsePlaintext,
  parsePublicKey,
  parseSecretKey,
  serializeCiphertext,
  serializePlaintext,
  serializePublicKey,
  serializeSecretKey,
} from '../crypto/ckks/codec.ts';
import { saveBytes } from '../crypto/ckks/objects.ts';
import { CkksContext, PARAMETER_SETS } from '../crypto/ckks/params.ts';
import { SealScope } from '../crypto/ckks/seal.ts';

let ctx: CkksContext;
let other: CkksContext;
const bytes: Record<'ct' | 'pt' | 'sk' | 'pk', Uint8Array> = {} as never;

beforeAll(async () => {
  ctx = await CkksContext.create(PARAMETER_SETS.N4096);
  other = await CkksContext.create({ ...PARAMETER_SETS.N4096, name: 'other', primeBits: [54, 55] });
  const { seal } = ctx;
  using s = new SealScope();
  const kg = s.track(new seal.KeyGenerator(ctx.context));
  const pk = s.track(kg.createPublicKey());
  const enc = s.track(new seal.Encryptor(ctx.context, pk));
  const ce = s.track(new seal.CKKSEncoder(ctx.context));
  const pt = s.track(new seal.Plaintext());
  ce.encode(Float64Array.from({ length: ctx.N / 2 }, (_, i) => i - 100), 2 ** 30, pt);
  const ct = s.track(new seal.Ciphertext());
  enc.encrypt(pt, ct);
  bytes.ct = saveBytes(ctx, ct);
  bytes.pt = saveBytes(ctx, pt);
  bytes.sk = saveBytes(ctx, s.track(kg.secretKey()));
  bytes.pk = saveBytes(ctx, pk);
});
afterAll(() => {
  ctx?.[Symbol.dispose]();
  other?.[Symbol.dispose]();
});

describe('SEAL codec round-trips byte-exactly', () => {
  it('Ciphertext', () => {
    const ct = parseCiphertext(ctx, bytes.ct);
    expect(ct.level).toBe(ctx.topLevel);
    expect(ct.isNttForm).toBe(true);
    expect(ct.polys.length).toBe(2);
    expect(ct.scale).toBe(2 ** 30);
    expect(serializeCiphertext(ctx, ct)).toEqual(bytes.ct);
  });
  it('Plaintext', () => {
    const pt = parsePlaintext(ctx, bytes.pt);
    expect(pt.level).toBe(ctx.topLevel);
    expect(serializePlaintext(ctx, pt)).toEqual(bytes.pt);
  });
  it('SecretKey (key level, every prime)', () => {
    const s = parseSecretKey(ctx, bytes.sk);
    expect(s.length).toBe(ctx.keyLevel * ctx.N);
    expect(serializeSecretKey(ctx, s)).toEqual(bytes.sk);
  });
  it('PublicKey (key level, 2 polynomials)', () => {
    const [p0, p1] = parsePublicKey(ctx, bytes.pk);
    expect(serializePublicKey(ctx, p0, p1)).toEqual(bytes.pk);
  });
});

function corrupt(b: Uint8Array, at: number, value: number): Uint8Array {
  const c = b.slice();
  c[at] = value;
  return c;
}

describe('SEAL codec refuses malformed bytes', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['truncated ciphertext', () => parseCiphertext(ctx, bytes.ct.subarray(0, bytes.ct.length - 8)), /truncated|bytes/],
    ['too short for a header', () => parseCiphertext(ctx, bytes.ct.subarray(0, 10)), /truncated/],
    ['wrong magic', () => parseCiphertext(ctx, corrupt(bytes.ct, 0, 0)), /magic/],
    ['compressed', () => parseCiphertext(ctx, corrupt(bytes.ct, 5, 2)), /compressed/],
    ['wrong version', () => parseCiphertext(ctx, corrupt(bytes.ct, 3, 3)), /version/],
    ['unknown parms_id', () => parseCiphertext(ctx, corrupt(bytes.ct, 20, bytes.ct[20]! ^ 1)), /parms_id/],
    ['other moduli', () => parseCiphertext(other, bytes.ct), /parms_id/],
    ['wrong N', () => parseCiphertext(ctx, corrupt(bytes.ct, 16 + 41 + 1, 0x20)), /N=/],
    ['wrong prime count', () => parseCiphertext(ctx, corrupt(bytes.ct, 16 + 49, 2)), /primes/],
    ['bad ntt flag', () => parseCiphertext(ctx, corrupt(bytes.ct, 16 + 32, 7)), /is_ntt_form/],
    ['unreduced residue', () => parseCiphertext(ctx, corrupt(bytes.ct, bytes.ct.length - 1, 0xff)), /not reduced/],
    ['plaintext as secret key (wrong level)', () => parseSecretKey(ctx, bytes.pt), /key level/],
    ['secret key as public key', () => parsePublicKey(ctx, bytes.sk), /bytes|truncated|size/],
    ['header total size that disagrees', () => parsePlaintext(ctx, corrupt(bytes.pt, 8, bytes.pt[8]! ^ 1)), /header says/],
    ['ciphertext as plaintext', () => parsePlaintext(ctx, bytes.ct), /coeff_count|bytes/],
    ['not bytes', () => parseCiphertext(ctx, 'abc' as unknown as Uint8Array), /Uint8Array/],
  ];
  for (const [name, fn, msg] of cases) {
    it(`refuses ${name}`, () => {
      expect(fn).toThrow(msg);
    });
  }
  it('accepts a residue of q − 1 and refuses exactly q (boundary of the range check)', () => {
    const ct = parseCiphertext(ctx, bytes.ct);
    const q = ctx.moduli[0]!;
    ct.polys[1]![5] = q - 1n;
    expect(() => parseCiphertext(ctx, serializeCiphertext(ctx, ct))).not.toThrow();
    ct.polys[1]![5] = q;
    expect(() => parseCiphertext(ctx, serializeCiphertext(ctx, ct))).toThrow(/residue .* not reduced/);
  });

  it('serialize refuses a polynomial of the wrong length', () => {
    expect(() => serializePlaintext(ctx, { level: 1, scale: 1, poly: new BigUint64Array(5) })).toThrow(RangeError);
  });
});
