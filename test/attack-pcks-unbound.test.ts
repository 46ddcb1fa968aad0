/**
 * Issue 13 item 2: decryption bound to the sum. A malicious aggregator used to send decryptors any
 * ciphertext as "the sum" (e.g. one party's input) and log the honest digest. Now a PCKS request
 * carries the contributors' signed EncryptedInput envelopes and each decryptor recomputes the sum
 * itself; its signed share names the sums, contributors, decryptors and analyst key.
 *
 * Setup: a real aggregator and 3 real parties (t = 2) in process over gRPC on 127.0.0.1 run the key
 * ceremony and an honest query. The malicious aggregator driver then talks to real CkksParty
 * objects (the same configs and key shares) with forged PCKS requests; a tampering hospital-1 (the
 * real CkksParty code, its share's names altered) checks the aggregator's side; a re-signed,
 * re-chained transcript checks the auditor's.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAnalystKey, type AnalystCkksKey } from '../client/ckks-analyst.ts';
import { PackedDecryptor } from '../crypto/ckks/encoder.ts';
import { parsePcksShare, pcksAggregateShares, pcksKeySwitch } from '../crypto/ckks/pcks.ts';
import { unpackCiphertext } from '../crypto/ckks/wire.ts';
import { fromUtf8, utf8 } from '../crypto/bytes.ts';
import { type Entry } from '../crypto/transcript.ts';
import { exportedEntries } from '../services/common/transcript-file.ts';
import { PartyMessage, type PCKSRequest, type SignedContribution, type StartSession } from '../gen/blindsum/v1/blindsum.ts';
import { exportTranscript } from '../services/audit/audit.ts';
import { verifyTranscript } from '../services/audit/verify.ts';
import { AGGREGATOR_KEY_FILE } from '../services/aggregator/transcript-log.ts';
import { ckksContext, sha256Hex } from '../services/common/ckks.ts';
import { CkksEntryKind } from '../services/common/ckks-kinds.ts';
import { parseInputCiphertexts, sumContributions, sumDigests } from '../services/common/ckks-inputs.ts';
import { loadIdentityFile } from '../services/common/keys.ts';
import { loadRoster } from '../services/common/roster.ts';
import type { Reply } from '../services/party/sessions.ts';
import { parseSchema, type Query } from '../stats/index.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DirectParties, SCHEMA_PATH, startFederation, waitCollectiveKey, type InProcessFederation } from './ckks-inprocess.ts';
import { rebuildTranscript, resignEntry } from './transcript-forge.ts';

const COUNT: Query = { kind: 'count', columns: [], filter: [] };
const ROWS = 418; // examples/pbc/pbc.csv
const schema = parseSchema(JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')));

let f: InProcessFederation;
let key: AnalystCkksKey;
let direct: DirectParties;
let template: StartSession | undefined;

beforeAll(async () => {
  f = await startFederation({ n: 3, threshold: 2, tampering: [0] });
  await waitCollectiveKey(f);
  key = await generateAnalystKey();
  f.tampering.get(0)!.tamper = (body, reply) => {
    if (body.$case === 'startSession') template = body.value;
    return reply;
  };
  const c = f.client();
  const o = await c.run(COUNT, { backend: 'ckks', ckksKey: key });
  expect(o.status, o.error).toBe('done');
  expect(o.result).toMatchObject({ kind: 'count', n: ROWS });
  direct = new DirectParties(f.configs, f.analysts);
}, 240_000);

afterAll(async () => {
  direct?.close();
  await f?.stop();
});

const [H1, H2, H3] = ['hospital-1', 'hospital-2', 'hospital-3'];

/** A fresh session at every party; the honest request to hospital-3 as decryptor with hospital-2. */
async function session(): Promise<{ id: string; c: SignedContribution[]; honest: PCKSRequest }> {
  const id = randomUUID(); // the query id the analyst signs
  const c = await direct.start(template!, id);
  return { id, c, honest: { sessionId: id, contributors: [H1, H2, H3], decryptors: [H2, H3], analystPublicKey: key.publicKey, contributions: c, offset: 0 } };
}

function refusal(r: Reply): string {
  expect(r.$case).toBe('refusal');
  return r.$case === 'refusal' ? r.value.reason : '';
}

describe('a decryptor key-switches only a sum it recomputed from ≥ t signed contributions (item 2)', () => {
  it('honest path: each decryptor recomputes the sum and names sums, contributors, decryptors and analyst key; the shares decrypt to the true count', async () => {
    const ctx = await ckksContext();
    const { c, honest } = await session();
    const r2 = await direct.pcks(1, honest);
    const r3 = await direct.pcks(2, honest);
    if (r2.$case !== 'pcksShare' || r3.$case !== 'pcksShare') throw new Error(`refused: ${JSON.stringify(r2.value)} ${JSON.stringify(r3.value)}`);
    const packed = c.map((x) => (PartyMessage.decode(x.body).body as { value: { ciphertexts: Uint8Array[] } }).value.ciphertexts);
    const level = packed[0]![0]![5]!; // compact wire header: byte 5 is the level
    const inputs = packed.map((cts) => parseInputCiphertexts(ctx, { ciphertexts: 1, level }, cts));
    const sums = sumContributions(ctx, inputs);
    for (const r of [r2, r3]) {
      expect(r.value.sumSha256).toEqual(sumDigests(sums));
      expect(r.value.contributors).toEqual([H1, H2, H3]);
      expect(r.value.decryptors).toEqual([H2, H3]);
      expect(r.value.analystKeySha256).toBe(sha256Hex(key.publicKey));
    }
    const agg = pcksAggregateShares(ctx, parsePcksShare(ctx, unpackCiphertext(ctx, r2.value.shares[0]!)), parsePcksShare(ctx, unpackCiphertext(ctx, r3.value.shares[0]!)));
    using dec = new PackedDecryptor(ctx, key.secretKey);
    expect(dec.decrypt([pcksKeySwitch(ctx, sums[0]!, agg)], 1, true)[0]).toBe(ROWS);
  });

  it("refuses a \"sum\" that is one party's input: two contributors listed, one contribution carried", async () => {
    const { honest, c } = await session();
    const reason = refusal(await direct.pcks(2, { ...honest, contributors: [H1, H3], decryptors: [H1, H3], contributions: [c[0]!] }));
    expect(reason).toMatch(/carries 1 signed contributions for 2 contributors/);
  });

  it("refuses one party's input passed off as this decryptor's own (relabelled envelope)", async () => {
    const { honest, c } = await session();
    const reason = refusal(await direct.pcks(2, { ...honest, contributors: [H1, H3], decryptors: [H1, H3], contributions: [c[0]!, { ...c[0]!, partyId: H3 }] }));
    expect(reason).toMatch(/contribution 1 \(hospital-3\): the signature of hospital-3's contribution does not verify/);
  });

  it('refuses a request whose sum leaves this decryptor out (its own input omitted)', async () => {
    const { honest, c } = await session();
    const reason = refusal(await direct.pcks(2, { ...honest, contributors: [H1, H2], decryptors: [H2, H3], contributions: [c[0]!, c[1]!] }));
    expect(reason).toMatch(/contributors must be at least t = 2 distinct session participants, sorted, this party included/);
  });

  it('refuses an altered contribution and a forged signature', async () => {
    const { honest, c } = await session();
    const body = c[1]!.body.slice();
    body[body.length - 100]! ^= 1; // one bit of a residue of hospital-2's ciphertext
    expect(refusal(await direct.pcks(2, { ...honest, contributions: [c[0]!, { ...c[1]!, body }, c[2]!] }))).toMatch(/contribution 1 \(hospital-2\): the signature of hospital-2's contribution does not verify/);
    const s2 = await session();
    const signature = new Uint8Array(64).fill(7);
    expect(refusal(await direct.pcks(2, { ...s2.honest, contributions: [s2.c[0]!, { ...s2.c[1]!, signature }, s2.c[2]!] }))).toMatch(/hospital-2's contribution does not verify against its roster key/);
  });

  it('refuses a repeated contributor, fewer than t contributors, and a contribution signed for another session', async () => {
    const a = await session();
    expect(refusal(await direct.pcks(2, { ...a.honest, contributors: [H1, H1, H3], decryptors: [H1, H3], contributions: [a.c[0]!, a.c[0]!, a.c[2]!] }))).toMatch(/distinct session participants, sorted/);
    const b = await session();
    expect(refusal(await direct.pcks(2, { ...b.honest, contributors: [H3], decryptors: [H3], contributions: [b.c[2]!] }))).toMatch(/at least t = 2/);
    const c = await session();
    expect(refusal(await direct.pcks(2, { ...c.honest, contributions: [b.c[0]!, c.c[1]!, c.c[2]!] }))).toMatch(/contribution 0 \(hospital-1\): contribution of hospital-1 is signed for another session/);
  });

  it('refuses a request towards another analyst key than StartSession announced', async () => {
    const { honest } = await session();
    const other = await generateAnalystKey();
    expect(refusal(await direct.pcks(2, { ...honest, analystPublicKey: other.publicKey }))).toMatch(/analyst key differs from the one announced at StartSession/);
  });

  it('the aggregator drops a share that names another sum than the one it asked for, and finishes with other decryptors', async () => {
    f.tampering.get(0)!.tamper = (_body, reply) => {
      if (reply.$case === 'pcksShare') return { ...reply, value: { ...reply.value, sumSha256: reply.value.sumSha256.map(() => sha256Hex(utf8('another sum'))) } };
      return reply;
    };
    try {
      const o = await f.client().run(COUNT, { backend: 'ckks', ckksKey: key });
      expect(o.status, o.error).toBe('done');
      expect(o.result).toMatchObject({ kind: 'count', n: ROWS });
      expect(o.ckks!.decryptors).toEqual([H2, H3]);
      expect(o.refusals.find((r) => r.partyId === H1)?.reason).toMatch(/invalid PCKSShare message: the share names other sums than the homomorphic sum of the contributions/);
    } finally {
      f.tampering.get(0)!.tamper = (_b, r) => r;
    }
  });

  it("audit verify: a PCKS request whose logged sum digest differs from what the decryptors' signed shares name fails at the first share", () => {
    const file = exportTranscript(f.aggregatorDataDir, {}, join(f.dir, 'transcript-pcks.json'));
    const roster = loadRoster(f.rosterPath);
    const good = verifyTranscript(file, roster, { schema });
    expect(good.ok, JSON.stringify(good.failure)).toBe(true);
    const secret = loadIdentityFile(join(f.aggregatorDataDir, AGGREGATOR_KEY_FILE)).identity.secretKey;
    const entries: Entry[] = exportedEntries(file);
    const k = entries.findIndex((e) => e.kind === CkksEntryKind.PCKSRequest);
    const rec = JSON.parse(fromUtf8(entries[k]!.body)) as { sumSha256: string[] };
    rec.sumSha256[0] = sha256Hex(utf8('the ciphertext the aggregator wanted decrypted'));
    entries[k] = resignEntry(secret, entries[k]!, utf8(JSON.stringify(rec)));
    rebuildTranscript(file, entries, secret);
    const bad = verifyTranscript(file, roster, { schema });
    const share = entries.findIndex((e, i) => i > k && e.kind === CkksEntryKind.PCKSShare);
    expect(bad.ok).toBe(false);
    expect(bad.failure!.index).toBe(file.from + share);
    expect(bad.failure!.reason).toMatch(/the PCKS share of hospital-\d names other sums than the PCKS request it answers/);
  });
});
