/**
 * Issue 14 item 3 on the CKKS backend: an encrypted input travels in chunks (each its own signed,
 * logged envelope, added to the aggregator's running sum on arrival), and PCKS runs chunk by
 * chunk: each PCKS request carries every contributor's signed chunk at one offset, and the
 * decryptor recomputes and key-switches the sum at those positions only.
 *
 * Setup: a real aggregator and 3 real parties (t = 2) in process over gRPC on 127.0.0.1, the
 * aggregator set to chunks of ONE ciphertext, and a 10,000-bin histogram (two ciphertexts per
 * input at N = 8192), so every query here streams. hospital-1 runs the real CkksParty code with a
 * hook on its replies (a malicious party); the malicious-aggregator cases talk to real CkksParty
 * objects directly (the same configs and key shares) with forged PCKS requests.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAnalystKey, type AnalystCkksKey } from '../client/ckks-analyst.ts';
import { PartyMessage, type PCKSRequest, type SignedContribution, type StartSession } from '../gen/blindsum/v1/blindsum.ts';
import { exportTranscript } from '../services/audit/audit.ts';
import { exportedEntries } from '../services/common/transcript-file.ts';
import { verifyTranscript } from '../services/audit/verify.ts';
import { recomputeCkksSums } from '../services/audit/verify-ckks-sums.ts';
import { CkksEntryKind } from '../services/common/ckks-kinds.ts';
import { loadRoster } from '../services/common/roster.ts';
import { DecryptionCount } from '../services/party/decryption-count.ts';
import type { Reply } from '../services/party/sessions.ts';
import { buildDataset, centralResult, compareResults, parseSchema, type Query } from '../stats/index.ts';
import { DirectParties, SCHEMA_PATH, signedContribution, startFederation, waitCollectiveKey, type InProcessFederation } from './ckks-inprocess.ts';

const schema = parseSchema(JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')));
/** 10,000 bins of `time`: 10,002 sums (with the out-of-range cells), two ciphertexts of 8,192 values. */
const HIST: Query = { kind: 'histogram', columns: ['time'], bins: Array.from({ length: 10_001 }, (_, i) => i), filter: [] };
const [H1, H2, H3] = ['hospital-1', 'hospital-2', 'hospital-3'];

let f: InProcessFederation;
let key: AnalystCkksKey;
let template: StartSession | undefined;

/** The central histogram over the CSV rows of the parties at `indexes`. */
function central(indexes: number[]): ReturnType<typeof centralResult> {
  const csvs = indexes.map((i) => readFileSync(join(f.dir, `${f.ids[i]}.csv`), 'utf8'));
  const [header, ...rest] = csvs.map((c) => c.trimEnd().split('\n'));
  const text = [...header!, ...rest.flatMap((lines) => lines.slice(1))].join('\n') + '\n';
  return centralResult(HIST, schema, buildDataset(schema, text).dataset);
}

beforeAll(async () => {
  f = await startFederation({ n: 3, threshold: 2, tampering: [0], ckksInputChunk: 1 });
  await waitCollectiveKey(f);
  key = await generateAnalystKey();
}, 240_000);

afterAll(async () => {
  await f?.stop();
});

describe('CKKS inputs and PCKS in chunks', () => {
  it('a two-ciphertext query travels in one-ciphertext chunks, equals the central histogram, and its transcript verifies with the sums recomputed', async () => {
    f.tampering.get(0)!.tamper = (body, reply) => {
      if (body.$case === 'startSession') template = body.value;
      return reply;
    };
    const o = await f.client().run(HIST, { backend: 'ckks', ckksKey: key });
    expect(o.status, o.error).toBe('done');
    expect(o.contributors).toEqual([H1, H2, H3]);
    expect(template!.ckksInputChunk).toBe(1);
    expect(compareResults(o.result!, central([0, 1, 2])).maxRelDiff).toBeLessThan(1e-9);

    const file = exportTranscript(f.aggregatorDataDir, {}, join(f.dir, 'transcript-streaming.json'));
    const entries = exportedEntries(file).filter((e) => e.session === template!.sessionId);
    // Two EncryptedInput chunks per party (offsets 0 and 1) and two PCKSShare chunks per decryptor.
    for (const p of [H1, H2, H3]) {
      const offsets = entries.filter((e) => e.kind === CkksEntryKind.EncryptedInput && e.sender === p).map((e) => {
        const m = PartyMessage.decode(e.body).body;
        return m?.$case === 'encryptedInput' ? [m.value.offset, m.value.ciphertexts.length] : [];
      });
      expect(offsets).toEqual([[0, 1], [1, 1]]);
    }
    for (const d of o.ckks!.decryptors) {
      expect(entries.filter((e) => e.kind === CkksEntryKind.PCKSShare && e.sender === d)).toHaveLength(2);
    }
    const verified = verifyTranscript(file, loadRoster(f.rosterPath), { schema });
    expect(verified.ok, JSON.stringify(verified.failure)).toBe(true);
    const sums = await recomputeCkksSums(file);
    expect(sums.failure).toBeUndefined();
    expect(sums.checked).toContain(template!.sessionId);
  });

  it('a party whose second chunk is not what it committed to is dropped and its first chunk taken out of the sum; the others finish and equal the central result on their rows', async () => {
    f.tampering.get(0)!.tamper = (_body, reply) => {
      if (reply.$case === 'encryptedInput' && reply.value.offset === 1) {
        const ct = new Uint8Array(reply.value.ciphertexts[0]!);
        ct[ct.length - 1]! ^= 1; // still a valid ciphertext, another one than committed
        return { ...reply, value: { ...reply.value, ciphertexts: [ct] } };
      }
      return reply;
    };
    try {
      const o = await f.client().run(HIST, { backend: 'ckks', ckksKey: key });
      expect(o.status, o.error).toBe('done');
      expect(o.contributors).toEqual([H2, H3]);
      expect(o.refusals.find((r) => r.partyId === H1)?.reason).toMatch(/invalid EncryptedInput message: (the encrypted input differs from its commitment|ciphertexts\[1\])/);
      // hospital-1's first chunk was in the running sum; had it stayed, position 0 would be off.
      expect(compareResults(o.result!, central([1, 2])).maxRelDiff).toBeLessThan(1e-9);
      const file = exportTranscript(f.aggregatorDataDir, {}, join(f.dir, 'transcript-streaming-drop.json'));
      expect(verifyTranscript(file, loadRoster(f.rosterPath), { schema }).ok).toBe(true);
      expect((await recomputeCkksSums(file)).failure).toBeUndefined();
    } finally {
      f.tampering.get(0)!.tamper = (_b, r) => r;
    }
  });
});

describe('a decryptor that fails in the middle of the streamed PCKS', () => {
  it('is dropped with the reason; the others are let go once they answered the chunk they hold, and PCKS restarts with another decryptor set', async () => {
    f.tampering.get(0)!.tamper = (_body, reply) => {
      if (reply.$case === 'pcksShare' && reply.value.offset === 1) return { ...reply, value: { ...reply.value, sumSha256: reply.value.sumSha256.map(() => '0'.repeat(64)) } };
      return reply;
    };
    try {
      const o = await f.client().run(HIST, { backend: 'ckks', ckksKey: key });
      expect(o.status, o.error).toBe('done');
      expect(o.ckks!.decryptors).toEqual([H2, H3]);
      expect(o.refusals.find((r) => r.partyId === H1)?.reason).toMatch(/invalid PCKSShare message: the share names other sums than the homomorphic sum of the contributions/);
      expect(compareResults(o.result!, central([0, 1, 2])).maxRelDiff).toBeLessThan(1e-9);
      // Every share of the first attempt is logged before the second attempt's request.
      const file = exportTranscript(f.aggregatorDataDir, {}, join(f.dir, 'transcript-streaming-retry.json'));
      const verified = verifyTranscript(file, loadRoster(f.rosterPath), { schema });
      expect(verified.ok, JSON.stringify(verified.failure)).toBe(true);
    } finally {
      f.tampering.get(0)!.tamper = (_b, r) => r;
    }
  });
});

describe('a malicious aggregator cannot make a decryptor key-switch anything but the committed sum, chunk by chunk', () => {
  let direct: DirectParties;
  /** A fresh session at every party: each party's signed EncryptedInput chunks, by party index. */
  async function session(): Promise<{ id: string; chunks: SignedContribution[][] }> {
    const id = randomUUID();
    const commits = await direct.commit(template!, id);
    const chunks: SignedContribution[][] = [];
    for (let i = 0; i < 3; i++) chunks.push((await direct.revealChunks(i, id, commits)).map((r) => signedContribution(f.configs[i]!, r)));
    return { id, chunks };
  }
  const request = (id: string, offset: number, contributions: SignedContribution[], contributors = [H1, H2, H3]): PCKSRequest => ({
    sessionId: id, contributors, decryptors: [H2, H3], analystPublicKey: key.publicKey, contributions, offset,
  });
  const answer = (r: Reply): string => (r.$case === 'refusal' ? `refused: ${r.value.reason}` : r.$case === 'pcksShare' ? `share at ${r.value.offset} × ${r.value.shares.length}` : r.$case);

  beforeAll(() => {
    direct = new DirectParties(f.configs, f.analysts);
  });
  afterAll(() => direct?.close());

  it('each party reveals its input in the chunks StartSession names', async () => {
    const { chunks } = await session();
    expect(chunks.map((c) => c.length)).toEqual([2, 2, 2]);
  });

  it('refuses a request mixing chunks of different offsets (a sum across positions)', async () => {
    const { id, chunks } = await session();
    const r = await direct.pcks(2, request(id, 0, [chunks[0]![0]!, chunks[1]![1]!, chunks[2]![0]!]));
    expect(answer(r)).toMatch(/^refused: contribution 1 \(hospital-2\): the chunk starts at ciphertext 1, the request at 0/);
  });

  it('gives a share per position once: each position is answered, then the same position again with fewer contributors (a difference attack) is refused', async () => {
    const { id, chunks } = await session();
    expect(answer(await direct.pcks(2, request(id, 0, chunks.map((c) => c[0]!))))).toBe('share at 0 × 1');
    expect(answer(await direct.pcks(2, request(id, 1, chunks.map((c) => c[1]!))))).toBe('share at 1 × 1');
    const fewer = await direct.pcks(2, request(id, 0, [chunks[1]![0]!, chunks[2]![0]!], [H2, H3]));
    expect(answer(fewer)).toMatch(/^refused: a PCKS share was already given for another sum at ciphertext 0 in this session/);
  });

  it('counts a whole attempt against τ(n) at its first request (one durable write), nothing more for its next chunks, and a position answered twice again', async () => {
    const { id, chunks } = await session();
    const keySha = template!.ckksKeySha256;
    const counted = (): number => {
      const c = new DecryptionCount(f.configs[2]!.stateDir);
      try {
        return c.count(keySha);
      } finally {
        c.close();
      }
    };
    const before = counted();
    expect(answer(await direct.pcks(2, request(id, 0, chunks.map((c) => c[0]!))))).toBe('share at 0 × 1');
    expect(counted() - before).toBe(2);
    expect(answer(await direct.pcks(2, request(id, 1, chunks.map((c) => c[1]!))))).toBe('share at 1 × 1');
    expect(counted() - before).toBe(2);
    expect(answer(await direct.pcks(2, request(id, 1, chunks.map((c) => c[1]!))))).toBe('share at 1 × 1');
    expect(counted() - before).toBe(3);
  });

  it('checks one signed chunk per contributor; its later chunks are checked against its signed commitment, not their signatures', async () => {
    // (a) a contributor's first chunk must be signed
    const a = await session();
    const bad = { ...a.chunks[0]![0]!, signature: new Uint8Array(64) };
    expect(answer(await direct.pcks(2, request(a.id, 0, [bad, a.chunks[1]![0]!, a.chunks[2]![0]!])))).toMatch(/^refused: contribution 0 \(hospital-1\): the signature of hospital-1's contribution does not verify/);
    // (b) once one is verified, a later chunk is accepted without a valid signature when it holds the committed ciphertexts
    const b = await session();
    expect(answer(await direct.pcks(2, request(b.id, 0, b.chunks.map((c) => c[0]!))))).toBe('share at 0 × 1');
    const unsigned = { ...b.chunks[0]![1]!, signature: new Uint8Array(64) };
    expect(answer(await direct.pcks(2, request(b.id, 1, [unsigned, b.chunks[1]![1]!, b.chunks[2]![1]!])))).toBe('share at 1 × 1');
    // (c) and refused when it holds anything else (the aggregator moved hospital-1's first chunk to position 1)
    const c = await session();
    expect(answer(await direct.pcks(2, request(c.id, 0, c.chunks.map((x) => x[0]!))))).toBe('share at 0 × 1');
    const first = PartyMessage.decode(c.chunks[0]![0]!.body).body;
    if (first?.$case !== 'encryptedInput') throw new Error('not an encrypted input');
    const moved = { ...c.chunks[0]![0]!, body: PartyMessage.encode({ body: { $case: 'encryptedInput', value: { ...first.value, offset: 1 } } }).finish() };
    expect(answer(await direct.pcks(2, request(c.id, 1, [moved, c.chunks[1]![1]!, c.chunks[2]![1]!])))).toMatch(/^refused: contribution 0 \(hospital-1\) is not the input hospital-1 committed to/);
  });

  it('refuses a request for a position past the input, and a chunk claimed at another offset than it was signed for', async () => {
    const { id, chunks } = await session();
    expect(answer(await direct.pcks(2, request(id, 2, chunks.map((c) => c[1]!))))).toMatch(/^refused: offset 2: the input has 2 ciphertexts/);
    const { id: id2, chunks: c2 } = await session();
    expect(answer(await direct.pcks(2, request(id2, 1, c2.map((c) => c[0]!))))).toMatch(/^refused: contribution 0 \(hospital-1\): the chunk starts at ciphertext 0, the request at 1/);
  });
});
