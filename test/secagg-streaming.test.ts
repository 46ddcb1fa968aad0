/**
 * Streamed masked inputs (docs/secagg.md § streaming): a party masks and sends y_u in chunks; the
 * aggregator adds each chunk on arrival and keeps none; a party whose vector is incomplete at the
 * close has its logged chunks taken out of the sum again and is dropped. Unit checks of MaskStream
 * and SecAggServer, then the real aggregator and party nodes over gRPC with a malicious party that
 * stops mid-stream or sends its chunks out of order; `audit verify` recomputes every sum.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMask, MaskStream } from '../crypto/prg.ts';
import { ringAddAt, ringSub } from '../crypto/ring.ts';
import { SecAggError, SecAggServer } from '../crypto/secagg/client.ts';
import { toHex } from '../crypto/bytes.ts';
import { decodeEntry, EntryKind } from '../crypto/transcript.ts';
import { blobDirOf, exportTranscript, readTranscriptFile } from '../services/audit/audit.ts';
import { verifyTranscript } from '../services/audit/verify.ts';
import { loadRoster } from '../services/common/roster.ts';
import { buildDataset, localStatistics, parseSchema, planQuery, type Query } from '../stats/index.ts';
import { startFederation, type InProcessFederation, type Tamper } from './ckks-inprocess.ts';
import { makeHarness, plainSum, type Harness } from './secagg-helpers.ts';

describe('MaskStream', () => {
  it('masks consecutive chunks exactly as addMask masks the whole vector (both rings, odd chunk sizes)', () => {
    for (const ringBits of [32, 64] as const) {
      const words = 2 * 70_001;
      const seeds = [randomBytes(32), randomBytes(32), randomBytes(32)];
      const signs = [1, -1, 1] as const;
      const input = new Uint32Array(words).map(() => (Math.random() * 2 ** 32) >>> 0);
      const whole = input.slice();
      seeds.forEach((seed, i) => addMask(whole, seed, ringBits, signs[i]!));
      const stream = new MaskStream(seeds.map((seed, i) => ({ seed, sign: signs[i]! })), ringBits, words);
      const chunked = input.slice();
      for (const size of [2, 16_384, 65_538, 4, 58_462, 2]) {
        const at = stream.position;
        stream.apply(chunked.subarray(at, at + size));
      }
      expect(stream.position).toBe(words);
      expect(chunked).toEqual(whole);
      expect(() => stream.apply(new Uint32Array(2))).toThrow(/exceed the vector/);
    }
  });

  it('refuses an odd 64-bit chunk and a bad sign', () => {
    expect(() => new MaskStream([{ seed: randomBytes(32), sign: 1 }], 64, 4).apply(new Uint32Array(3))).toThrow(/even number/);
    expect(() => new MaskStream([{ seed: randomBytes(32), sign: 2 as 1 }], 64, 4)).toThrow(/sign/);
  });
});

describe('SecAggServer takes masked inputs in chunks', () => {
  const L = 10;
  /** Runs the rounds up to the masked inputs; returns each party's y_u (not yet sent) and the rest of the protocol. */
  const setup = (): { h: Harness; server: SecAggServer; ys: Map<string, Uint32Array>; finish: () => Uint32Array } => {
    const h = makeHarness({ ringBits: 64, vectorLength: L });
    const { clients, server } = h;
    for (const c of clients.values()) server.receiveAdvertiseKeys(c.advertiseKeys());
    const u1 = server.closeAdvertiseKeys();
    for (const c of clients.values()) server.receiveShareKeys(c.shareKeys(u1));
    const routed = server.closeShareKeys();
    const ys = new Map([...clients.values()].map((c) => [c.party, c.maskedInput(routed.get(c.party)!, h.inputs.get(c.party)!).masked]));
    const finish = (): Uint32Array => {
      const u3 = server.closeMaskedInputCollection();
      for (const p of u3) server.receiveConsistencyCheck(clients.get(p)!.consistencyCheck(u3));
      const request = server.closeConsistencyCheck();
      for (const s of request.signatures) server.receiveUnmasking(clients.get(s.party)!.unmask(request));
      return server.finish();
    };
    return { h, server, ys, finish };
  };

  it('chunks in order give the same sum as whole vectors', () => {
    const { h, server, ys, finish } = setup();
    for (const [party, y] of ys) {
      expect(server.receiveMaskedChunk({ party, offset: 0, masked: y.slice(0, 6) })).toBe(false);
      expect(server.receiveMaskedChunk({ party, offset: 3, masked: y.slice(6, 8) })).toBe(false);
      expect(server.receiveMaskedChunk({ party, offset: 4, masked: y.slice(8) })).toBe(true);
    }
    expect(finish()).toEqual(plainSum(h, [...ys.keys()]));
  });

  it('refuses a chunk out of order, overlapping, past the end, empty or of half an element; and a chunk after the last', () => {
    const { server, ys } = setup();
    const [party, y] = [...ys][0]!;
    const refused = (offset: number, masked: Uint32Array, why: RegExp): void => {
      expect(() => server.receiveMaskedChunk({ party, offset, masked })).toThrow(SecAggError);
      expect(() => server.receiveMaskedChunk({ party, offset, masked })).toThrow(why);
    };
    refused(2, y.slice(4, 8), /starts at element 2; expected 0/);
    expect(server.receiveMaskedChunk({ party, offset: 0, masked: y.slice(0, 4) })).toBe(false);
    refused(1, y.slice(2, 6), /starts at element 1; expected 2/);
    refused(2, new Uint32Array(2 * L), /ends past the vector/);
    refused(2, new Uint32Array(0), /non-empty/);
    refused(2, new Uint32Array(3), /whole ring elements/);
    expect(server.receiveMaskedChunk({ party, offset: 2, masked: y.slice(4) })).toBe(true);
    refused(L, y.slice(0, 2), /second message/);
  });

  it('an incomplete vector blocks the close until its chunks are retracted; then the party is dropped and the sum is exact', () => {
    const { h, server, ys, finish } = setup();
    const [[p0, y0], ...rest] = [...ys];
    for (const [party, y] of rest) server.receiveMaskedInput({ party, masked: y });
    server.receiveMaskedChunk({ party: p0, offset: 0, masked: y0.slice(0, 4) });
    server.receiveMaskedChunk({ party: p0, offset: 2, masked: y0.slice(4, 10) });
    expect(server.incomplete).toEqual(new Map([[p0, 5]]));
    expect(() => server.closeMaskedInputCollection()).toThrow(/incomplete: retract/);
    expect(() => server.retractMaskedChunk({ party: p0, offset: 0, masked: y0.slice(0, 12) })).toThrow(/not within the 5 elements/);
    // in log order (the aggregator re-reads them so), each once; then the party can send no more
    server.retractMaskedChunk({ party: p0, offset: 0, masked: y0.slice(0, 4) });
    expect(() => server.retractMaskedChunk({ party: p0, offset: 1, masked: y0.slice(2, 4) })).toThrow(/overlaps one already retracted/);
    expect(() => server.receiveMaskedChunk({ party: p0, offset: 5, masked: y0.slice(10) })).toThrow(/after its input was taken out of the sum/);
    expect(() => server.closeMaskedInputCollection()).toThrow(/incomplete: retract/);
    server.retractMaskedChunk({ party: p0, offset: 2, masked: y0.slice(4, 10) });
    expect(() => server.retractMaskedChunk({ party: p0, offset: 0, masked: y0.slice(0, 2) })).toThrow(/no incomplete masked input/);
    const sum = finish();
    expect(server.sets.dropped).toEqual([p0]);
    expect(sum).toEqual(plainSum(h, rest.map(([p]) => p)));
  });

  it('ringAddAt then subtracting restores the vector; refuses a chunk that does not fit', () => {
    const a = new Uint32Array(8).map(() => (Math.random() * 2 ** 32) >>> 0);
    const b = new Uint32Array(4).map(() => (Math.random() * 2 ** 32) >>> 0);
    const copy = a.slice();
    ringAddAt(a, b, 2, 64);
    expect(a.subarray(0, 4)).toEqual(copy.subarray(0, 4));
    ringAddAt(a, b, 2, 64, -1);
    expect(a).toEqual(copy);
    expect(() => ringAddAt(a, b, 3, 64)).toThrow(/does not fit/);
    expect(ringSub(a.slice(), a, 64).every((x) => x === 0)).toBe(true);
  });
});

describe('streamed masked inputs through the real aggregator and party nodes', () => {
  let f: InProcessFederation;
  const schemaPath = 'examples/pbc/schema.json';
  const schema = parseSchema(JSON.parse(readFileSync(schemaPath, 'utf8')));
  const edges = (hi: number, k: number): number[] => Array.from({ length: k + 1 }, (_, i) => (hi * i) / k);
  // 41 × 26 = 1,066 cells in chunks of 256 elements: five chunks per party
  const CHUNK = 256;
  const QUERY: Query = { kind: 'marginal', columns: ['time', 'chol'], edges: [edges(10_000, 40), edges(2000, 25)], filter: [] };
  const central = (parties: number[]): bigint[] => {
    const plan = planQuery(QUERY, schema, { parties: 1, ringBits: 64 });
    const out = new Array<bigint>(plan.entries.length).fill(0n);
    for (const i of parties) {
      const { dataset } = buildDataset(schema, readFileSync(join(f.dir, `${f.ids[i]}.csv`), 'utf8'));
      localStatistics(QUERY, schema, plan, dataset).sums.forEach((s, k) => (out[k]! += s));
    }
    return out;
  };

  beforeAll(async () => {
    f = await startFederation({ n: 4, threshold: 3, tampering: [3], roundTimeoutMs: 8_000, maskedChunkElements: CHUNK });
  }, 120_000);
  afterAll(async () => {
    await f?.stop();
  });

  it('a 1,066-entry vector travels in 5 chunks per party and sums exactly', async () => {
    const o = await f.client().run(QUERY, { backend: 'secagg' });
    expect(o.status, o.error).toBe('done');
    expect(o.contributors).toEqual(f.ids);
    expect(o.exactSums).toEqual(central([0, 1, 2, 3]));
  }, 120_000);

  /** Runs the query with hospital-4 altering its chunks; the other three must be summed exactly without it. */
  async function withoutTheTamperer(tamper: Tamper): Promise<void> {
    const bad = f.tampering.get(3)!;
    bad.tamper = tamper;
    try {
      const o = await f.client().run(QUERY, { backend: 'secagg' });
      expect(o.status, o.error).toBe('done');
      expect(o.contributors).toEqual(f.ids.slice(0, 3));
      expect(o.exactSums).toEqual(central([0, 1, 2]));
    } finally {
      bad.tamper = (_b, r) => r;
    }
  }

  it('a party that stops after its first chunks is taken out of the sum and dropped; the others are summed exactly', async () => {
    await withoutTheTamperer((_b, r) => (r.$case === 'maskedInput' && r.value.offset >= 3n * BigInt(CHUNK) ? undefined : r)); // three of five chunks
  }, 120_000);

  it('a party that sends its second chunk first is dropped; the others are summed exactly', async () => {
    await withoutTheTamperer((_b, r) => (r.$case === 'maskedInput' && r.value.offset === 0n ? undefined : r)); // chunk 2 arrives first
  }, 120_000);

  it('audit verify recomputes every streamed sum, the retracted party included', () => {
    const file = exportTranscript(f.aggregatorDataDir, {}, join(f.dir, 'streamed.json'));
    const report = verifyTranscript(file, loadRoster(f.rosterPath), { schema });
    expect(report.ok, JSON.stringify(report).slice(0, 400)).toBe(true);
    expect(report.unchecked ?? []).toEqual([]);
    const done = report.sessions.filter((s) => s.status === 'released');
    expect(done.length).toBeGreaterThanOrEqual(3);
    expect(done.some((s) => s.contributors.length === 3)).toBe(true);
    // the first session: five MaskedInput envelopes (chunks) from each party
    const entries = file.entries.map((l) => decodeEntry(l.entry));
    const first = done[done.length - 3]!.queryId;
    for (const id of f.ids) expect(entries.filter((e) => e.session === first && e.sender === id && e.kind === EntryKind.MaskedInput).length).toBe(5);
  });

  it('a chunk whose blob is gone: audit verify checks everything else and says which sum it could not recompute', () => {
    const path = join(f.dir, 'streamed-gap.json');
    exportTranscript(f.aggregatorDataDir, {}, path);
    const file = readTranscriptFile(path);
    const entries = file.entries.map((l) => decodeEntry(l.entry));
    const k = entries.findIndex((e) => e.kind === EntryKind.MaskedInput && e.sender === f.ids[0] && e.bodyDigest !== undefined);
    unlinkSync(join(blobDirOf(path), toHex(entries[k]!.bodyDigest!)));
    const report = verifyTranscript(readTranscriptFile(path), loadRoster(f.rosterPath), { schema });
    expect(report.failure).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.unchecked!.join('\n')).toMatch(new RegExp(`query ${entries[k]!.session}: released sums and result NOT recomputed: the masked inputs of ${f.ids[0]}`));
  });
});
