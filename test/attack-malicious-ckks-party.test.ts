/**
 * Issue 13 item 12: a malicious CKKS party can no longer corrupt a release silently. A real
 * aggregator and 3 parties (t = 2) in process over gRPC on 127.0.0.1; hospital-1 runs the real
 * CkksParty code but alters what it sends: a well-formed ciphertext of huge values, an exact copy
 * of another party's earlier ciphertext (taken from the exported transcript), a shifted PCKS share.
 * The analyst's real client refuses out-of-range releases and malformed decryptions; the
 * aggregator, the decryptors and `audit verify` refuse exact copies.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueryOutcome } from '../client/analyst.ts';
import { generateAnalystKey, type AnalystCkksKey } from '../client/ckks-analyst.ts';
import { parseCiphertext, serializeCiphertext } from '../crypto/ckks/codec.ts';
import { PackedEncryptor } from '../crypto/ckks/encoder.ts';
import { packCiphertext, unpackCiphertext } from '../crypto/ckks/wire.ts';
import { signEnvelope, type Entry } from '../crypto/transcript.ts';
import { exportedEntries } from '../services/common/transcript-file.ts';
import { InputCommitments, PartyMessage, type SignedContribution, type StartSession } from '../gen/blindsum/v1/blindsum.ts';
import { exportTranscript } from '../services/audit/audit.ts';
import { verifyTranscript } from '../services/audit/verify.ts';
import { AGGREGATOR_KEY_FILE } from '../services/aggregator/transcript-log.ts';
import { ckksContext, ckksLayout } from '../services/common/ckks.ts';
import { commitListDigest, inputDigest } from '../services/common/ckks-inputs.ts';
import type { Reply } from '../services/party/sessions.ts';
import { CkksEntryKind } from '../services/common/ckks-kinds.ts';
import { loadIdentityFile } from '../services/common/keys.ts';
import { loadRoster } from '../services/common/roster.ts';
import { loadCkksKey } from '../services/party/ckks-keys.ts';
import { buildDataset, MAX_RAW_DECRYPTION_ERROR, parseSchema, planQuery, ReleaseCheckError, type Query } from '../stats/index.ts';
import { DirectParties, SCHEMA_PATH, signedContribution, startFederation, waitCollectiveKey, type InProcessFederation, type Tamper } from './ckks-inprocess.ts';
import { rebuildTranscript, resignEntry } from './transcript-forge.ts';

const COUNT: Query = { kind: 'count', columns: [], filter: [] };
const ROWS = 418;
const schema = parseSchema(JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')));
const [H1, H2, H3] = ['hospital-1', 'hospital-2', 'hospital-3'];

let f: InProcessFederation;
let key: AnalystCkksKey;
let template: StartSession | undefined;
const honest: Tamper = (_b, r) => r;

/** Rows of party i's data file. */
const rowsOf = (i: number): number => buildDataset(schema, readFileSync(join(f.dir, `${f.ids[i]}.csv`), 'utf8')).dataset.rowCount;

const ciphertextsOf = (body: Uint8Array): Uint8Array[] => {
  const m = PartyMessage.decode(body).body;
  if (m?.$case !== 'encryptedInput') throw new Error('not an encrypted input');
  return m.value.ciphertexts.map((c) => new Uint8Array(c));
};

beforeAll(async () => {
  f = await startFederation({ n: 3, threshold: 2, tampering: [0] });
  await waitCollectiveKey(f);
  key = await generateAnalystKey();
}, 240_000);

afterAll(async () => {
  await f?.stop();
});

async function run(q: Query = COUNT, privacy?: { rho: number }): Promise<QueryOutcome> {
  return f.client().run(q, { backend: 'ckks', ckksKey: key, ...(privacy ? { privacy } : {}) });
}

/** What hospital-1 does to its replies from now on (and it sees the aggregator's messages unaltered). */
function tamper(fn: Tamper): void {
  f.tampering.get(0)!.tamper = fn;
  f.tampering.get(0)!.tamperIn = (b) => b;
}

/**
 * hospital-1 lies consistently about its input: it commits to `commit(honest digests)` and reveals
 * `reveal(honest ciphertexts)`, naming the commitment list the aggregator really forwarded (its
 * own real code is shown the list with its honest commitment, so it goes along).
 */
function lie(commit: (honest: string[]) => string[], reveal: (honest: Uint8Array[]) => Uint8Array[]): void {
  const t = f.tampering.get(0)!;
  let honestCommit: Reply | undefined;
  let forwarded = '';
  t.tamperIn = (b) => {
    if (b.$case !== 'inputCommitments' || !honestCommit) return b;
    forwarded = commitListDigest(b.value.commits);
    return { ...b, value: { ...b.value, commits: b.value.commits.map((c) => (c.partyId === H1 ? signedContribution(f.configs[0]!, honestCommit!) : c)) } };
  };
  t.tamper = (_b, r) => {
    if (r.$case === 'inputCommit') {
      honestCommit = r;
      return { ...r, value: { ...r.value, ciphertextsSha256: commit(r.value.ciphertextsSha256) } };
    }
    if (r.$case === 'encryptedInput') return { ...r, value: { ...r.value, ciphertexts: reveal(r.value.ciphertexts), commitmentsSha256: forwarded } };
    return r;
  };
}

describe('a malicious CKKS party cannot corrupt a release silently (item 12)', () => {
  it('honest releases pass the range check, exact and with DP noise', async () => {
    tamper((b, r) => {
      if (b.$case === 'startSession') template = b.value;
      return r;
    });
    const o = await run();
    expect(o.status, o.error).toBe('done');
    expect(o.result).toMatchObject({ kind: 'count', n: ROWS });
    expect(o.ckks!.maxRawError).toBeLessThan(MAX_RAW_DECRYPTION_ERROR);
    const dp = await run({ kind: 'histogram', columns: ['age'], filter: [], bins: [30, 40, 50, 60, 70, 80] }, { rho: 0.5 });
    expect(dp.status, dp.error).toBe('done');
    expect(dp.result?.kind).toBe('histogram');
  });

  it("a well-formed ciphertext of huge values: the analyst's client refuses the release, naming the entry and its bound", async () => {
    const ctx = await ckksContext();
    const pk = loadCkksKey(f.configs[0]!.stateDir, H1)!.publicKey;
    const level = ckksLayout(ctx, planQuery(COUNT, schema, { parties: 3, ringBits: 64 }), schema).level;
    // hospital-1 commits to, then reveals, a well-formed encryption of 1,000,000 instead of its count.
    let huge: Uint8Array[];
    {
      using enc = new PackedEncryptor(ctx, pk, level);
      huge = enc.encrypt(new Float64Array([1_000_000])).map((c) => packCiphertext(ctx, c));
    }
    lie(() => huge.map(inputDigest), () => huge);
    try {
      const e = await run().then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(ReleaseCheckError);
      // hospital-1's 1,000,000 replaces its own count: n = 10^6 + the others' rows.
      expect((e as Error).message).toContain(`"n" = ${1_000_000 + rowsOf(1) + rowsOf(2)} is outside [0, 30000]`);
      expect((e as Error).message).toMatch(/^release refused: 1 released sum is outside what the plan allows \(3 contributors × 10000 rows × the per-row bound\).*a party sent an out-of-range input or a decryption share is malformed/);
    } finally {
      tamper(honest);
    }
  });

  it("an exact copy of another party's earlier ciphertext (from the exported transcript) is refused by the aggregator", async () => {
    const file = exportTranscript(f.aggregatorDataDir, {}, join(f.dir, 'before-replay.json'));
    const earlier = exportedEntries(file).filter((e) => e.kind === CkksEntryKind.EncryptedInput && e.sender === H2).at(-1)!;
    const copy = ciphertextsOf(earlier.body);
    lie(() => copy.map(inputDigest), () => copy);
    try {
      const o = await run();
      expect(o.status, o.error).toBe('done');
      expect(o.contributors).toEqual([H2, H3]);
      expect(o.refusals.find((x) => x.partyId === H1)?.reason).toMatch(new RegExp(`invalid EncryptedInput message: ciphertexts\\[0\\] of hospital-1 is an exact copy of an input of hospital-2 in session ${earlier.session}`));
      expect(o.result).toMatchObject({ kind: 'count', n: rowsOf(1) + rowsOf(2) });
    } finally {
      tamper(honest);
    }
  });

  it('an exact copy is refused by the decryptors: a commitment to another party\'s input before revealing, and a copy from an earlier session (durable digest table)', async () => {
    const direct = new DirectParties(f.configs, f.analysts);
    try {
      const id = (): string => randomUUID(); // each session: a query id the analyst signs
      /** hospital-1 (colluding with the aggregator) signs `reply` as its own. */
      const asH1 = (reply: Reply): SignedContribution => signedContribution(f.configs[0]!, reply);
      const request = (sid: string, c: SignedContribution[]) => ({ sessionId: sid, contributors: [H1, H2, H3], decryptors: [H2, H3], analystPublicKey: key.publicKey, contributions: c, offset: 0 });
      // Session X, honest: hospital-3 key-switches it (and records every input's digest durably).
      const x = id();
      const cx = await direct.start(template!, x);
      expect((await direct.pcks(2, request(x, cx))).$case).toBe('pcksShare');
      // Session Y: hospital-1 commits to hospital-2's committed digests (to reveal its ciphertext
      // once the aggregator hands it over): hospital-2 and hospital-3 refuse to reveal.
      const y = id();
      const cy = await direct.commit(template!, y);
      const copied = PartyMessage.decode(cy[1]!.body).body as { value: { ciphertextsSha256: string[] } };
      const list = [asH1({ $case: 'inputCommit', value: { sessionId: y, ciphertextsSha256: copied.value.ciphertextsSha256 } }), cy[1]!, cy[2]!];
      for (const i of [1, 2]) {
        const r = await direct.reveal(i, y, list);
        expect(r.$case === 'refusal' && r.value.reason).toMatch(/the commitments of hospital-1 and hospital-2 name an equal ciphertext \(an exact copy\)/);
      }
      // Session Z: hospital-1 commits to and reveals hospital-2's ciphertext of session X.
      const z = id();
      const old = ciphertextsOf(cx[1]!.body);
      const cz = await direct.commit(template!, z);
      const zl = [asH1({ $case: 'inputCommit', value: { sessionId: z, ciphertextsSha256: old.map(inputDigest) } }), cz[1]!, cz[2]!];
      const revealed = [await direct.reveal(1, z, zl), await direct.reveal(2, z, zl)].map((r, i) => signedContribution(f.configs[i + 1]!, r));
      const named = (PartyMessage.decode(revealed[1]!.body).body as { value: { commitmentsSha256: string } }).value.commitmentsSha256;
      const across = await direct.pcks(2, request(z, [asH1({ $case: 'encryptedInput', value: { sessionId: z, ciphertexts: old, commitmentsSha256: named, offset: 0 } }), ...revealed]));
      expect(across.$case === 'refusal' && across.value.reason).toMatch(new RegExp(`ciphertexts\\[0\\] of hospital-1 is an exact copy of an input of hospital-2 in session ${x}`));
    } finally {
      direct.close();
    }
  });

  it('cancellation: an input chosen after the others were revealed is refused by the decryptors and by the aggregator', async () => {
    const direct = new DirectParties(f.configs, f.analysts);
    try {
      const sid = randomUUID();
      const commits = await direct.commit(template!, sid);
      // hospital-2 and hospital-3 reveal after the honest list; the colluding aggregator hands
      // their ciphertexts to hospital-1, which now picks its input (e.g. −Σ others + target).
      const revealed = [1, 2].map(async (i) => signedContribution(f.configs[i]!, await direct.reveal(i, sid, commits)));
      const [c2, c3] = await Promise.all(revealed);
      // (any ciphertext chosen now stands for it: what matters is when it was chosen)
      const ctx = await ckksContext();
      const pk = loadCkksKey(f.configs[0]!.stateDir, H1)!.publicKey;
      const level = ciphertextsOf(c2!.body)[0]![5]!; // compact wire header: byte 5 is the level
      using enc = new PackedEncryptor(ctx, pk, level);
      const late = enc.encrypt(new Float64Array([7])).map((c) => packCiphertext(ctx, c));
      const request = (c1: SignedContribution) => ({ sessionId: sid, contributors: [H1, H2, H3], decryptors: [H2, H3], analystPublicKey: key.publicKey, contributions: [c1, c2!, c3!], offset: 0 });
      const named = (PartyMessage.decode(c2!.body).body as { value: { commitmentsSha256: string } }).value.commitmentsSha256;
      // (a) revealed under its original commitment: not the committed input
      const a = await direct.pcks(2, request(signedContribution(f.configs[0]!, { $case: 'encryptedInput', value: { sessionId: sid, ciphertexts: late, commitmentsSha256: named, offset: 0 } })));
      expect(a.$case === 'refusal' && a.value.reason).toMatch(/contribution 0 \(hospital-1\) is not the input hospital-1 committed to/);
      // (b) with a new commitment in a new list: it names another list than the decryptor saw
      const sid2 = randomUUID();
      const commits2 = await direct.commit(template!, sid2);
      const [d2, d3] = await Promise.all([1, 2].map(async (i) => signedContribution(f.configs[i]!, await direct.reveal(i, sid2, commits2))));
      const newList = [signedContribution(f.configs[0]!, { $case: 'inputCommit', value: { sessionId: sid2, ciphertextsSha256: late.map(inputDigest) } }), commits2[1]!, commits2[2]!];
      const b = await direct.pcks(2, {
        sessionId: sid2, contributors: [H1, H2, H3], decryptors: [H2, H3], analystPublicKey: key.publicKey,
        contributions: [signedContribution(f.configs[0]!, { $case: 'encryptedInput', value: { sessionId: sid2, ciphertexts: late, commitmentsSha256: commitListDigest(newList), offset: 0 } }), d2!, d3!], offset: 0,
      });
      expect(b.$case === 'refusal' && b.value.reason).toMatch(/contribution 0 \(hospital-1\) was revealed after another commitment list than this party saw/);
    } finally {
      direct.close();
    }
    // The real aggregator refuses a revealed input that differs from its commitment.
    lie((honest) => honest.map(() => 'ab'.repeat(32)), (honest) => honest);
    try {
      const o = await run();
      expect(o.status, o.error).toBe('done');
      expect(o.contributors).toEqual([H2, H3]);
      expect(o.refusals.find((x) => x.partyId === H1)?.reason).toMatch(/invalid EncryptedInput message: the encrypted input differs from its commitment/);
    } finally {
      tamper(honest);
    }
  });

  it('audit verify: an encrypted input that copies an earlier one fails at its entry, naming the first', () => {
    const file = exportTranscript(f.aggregatorDataDir, {}, join(f.dir, 'replay.json'));
    const roster = loadRoster(f.rosterPath);
    expect(verifyTranscript(file, roster, { schema }).ok).toBe(true);
    // The aggregator, colluding with hospital-3, logs hospital-3's input of the last session as a
    // copy of hospital-2's from the first (hospital-3 signs it), and re-chains the log.
    const entries: Entry[] = exportedEntries(file);
    const first = entries.findIndex((e) => e.kind === CkksEntryKind.EncryptedInput && e.sender === H2);
    const k = entries.findLastIndex((e) => e.kind === CkksEntryKind.EncryptedInput && e.sender === H3);
    const e = entries[k]!;
    const orig = PartyMessage.decode(e.body).body as { value: { commitmentsSha256: string } };
    const body = PartyMessage.encode({ body: { $case: 'encryptedInput', value: { sessionId: e.session, ciphertexts: ciphertextsOf(entries[first]!.body), commitmentsSha256: orig.value.commitmentsSha256, offset: 0 } } }).finish();
    entries[k] = { ...signEnvelope(f.configs[2]!.identity.identity.secretKey, e.kind, e.session, H3, body), index: e.index, atMs: e.atMs };
    const secret = loadIdentityFile(join(f.aggregatorDataDir, AGGREGATOR_KEY_FILE)).identity.secretKey;
    rebuildTranscript(file, entries, secret);
    const bad = verifyTranscript(file, roster, { schema });
    expect(bad.ok).toBe(false);
    expect(bad.failure!.index).toBe(file.from + k);
    expect(bad.failure!.reason).toMatch(new RegExp(`ciphertexts\\[0\\] of hospital-3 is an exact copy of the encrypted input of hospital-2 at entry ${file.from + first}`));
  });

  it('audit verify: a commitment list that omits a logged commitment, or an input revealed before the list, fails at that entry', () => {
    const roster = loadRoster(f.rosterPath);
    const secret = loadIdentityFile(join(f.aggregatorDataDir, AGGREGATOR_KEY_FILE)).identity.secretKey;
    const fresh = (): { file: ReturnType<typeof exportTranscript>; entries: Entry[] } => {
      const file = exportTranscript(f.aggregatorDataDir, {}, join(f.dir, 'commit-audit.json'));
      return { file, entries: exportedEntries(file) };
    };
    // (a) the aggregator forwards a list without hospital-3's logged commitment
    {
      const { file, entries } = fresh();
      const k = entries.findLastIndex((e) => e.kind === CkksEntryKind.InputCommitments);
      const m = InputCommitments.decode(entries[k]!.body);
      entries[k] = resignEntry(secret, entries[k]!, InputCommitments.encode({ ...m, commits: m.commits.filter((c) => c.partyId !== H3) }).finish());
      rebuildTranscript(file, entries, secret);
      const bad = verifyTranscript(file, roster, { schema });
      expect(bad.failure?.index).toBe(file.from + k);
      expect(bad.failure?.reason).toMatch(/the commitment list does not hold exactly the logged commitments/);
    }
    // (b) an input logged before the commitment list was forwarded
    {
      const { file, entries } = fresh();
      const k = entries.findLastIndex((e) => e.kind === CkksEntryKind.InputCommitments);
      const [list] = entries.splice(k, 1);
      const j = entries.findIndex((e, i) => i >= k && e.kind === CkksEntryKind.EncryptedInput);
      entries.splice(j + 1, 0, list!);
      rebuildTranscript(file, entries, secret);
      const bad = verifyTranscript(file, roster, { schema });
      expect(bad.failure?.index).toBe(file.from + j);
      expect(bad.failure?.reason).toMatch(/encrypted input revealed before the commitment list was forwarded/);
    }
  });

  it("secure aggregation: a party's out-of-range masked input makes the aggregator refuse the release, naming the entry", async () => {
    tamper((_b, r) => {
      if (r.$case !== 'maskedInput') return r;
      // +10^6 on entry 0 of the 64-bit ring vector (little-endian 32-bit words: lo, hi)
      const masked = new Uint8Array(r.value.masked);
      const dv = new DataView(masked.buffer);
      const v = (BigInt(dv.getUint32(4, true)) << 32n) + BigInt(dv.getUint32(0, true)) + 1_000_000n;
      dv.setUint32(0, Number(v & 0xffffffffn), true);
      dv.setUint32(4, Number((v >> 32n) & 0xffffffffn), true);
      return { ...r, value: { ...r.value, masked } };
    });
    try {
      const o = await f.client().run(COUNT, { backend: 'secagg' });
      expect(o.status).toBe('failed');
      expect(o.result).toBeUndefined();
      expect(o.error).toMatch(/release refused: 1 released sum is outside what the plan allows \(3 contributors × 10000 rows × the per-row bound\): "n" = 1000418 is outside \[0, 30000\]/);
    } finally {
      tamper(honest);
    }
  });

  it("a decryptor that shifts its PCKS share: the analyst's client refuses (out of range, or a malformed share)", async () => {
    const ctx = await ckksContext();
    /** Adds `shift` grid units to value 0 of the first share (a constant added to every NTT residue of h0). */
    const shifted = (packed: Uint8Array, shift: number): Uint8Array => {
      const d = parseCiphertext(ctx, unpackCiphertext(ctx, packed));
      const c = BigInt(Math.round(shift * 2 ** ctx.params.scaleBits));
      const h0 = d.polys[0]!.slice();
      for (let j = 0; j < d.level; j++) {
        const q = ctx.moduli[j]!;
        const cj = ((c % q) + q) % q;
        for (let i = j * ctx.N; i < (j + 1) * ctx.N; i++) h0[i] = (h0[i]! + cj) % q;
      }
      return packCiphertext(ctx, serializeCiphertext(ctx, { ...d, polys: [h0, d.polys[1]!] }));
    };
    for (const [shift, message] of [
      [1_000_000, /"n" = 1000418 is outside \[0, 30000\]/],
      [0.4, /a decryption share is malformed: value 0 decrypts 0\.[34]\d\d grid units away from an integer/],
    ] as const) {
      tamper((_b, r) => (r.$case === 'pcksShare' ? { ...r, value: { ...r.value, shares: [shifted(r.value.shares[0]!, shift), ...r.value.shares.slice(1)] } } : r));
      try {
        const e = await run().then((o) => o, (x: unknown) => x);
        expect(e).toBeInstanceOf(ReleaseCheckError);
        expect((e as Error).message).toMatch(message);
      } finally {
        tamper(honest);
      }
    }
  });
});
