/**
 * The CKKS backend end to end over real gRPC, with the aggregator and 3 parties (t = 2) as separate
 * processes started by the real CLI: the key ceremony, every query kind equal to the central
 * computation exactly on the fixed-point grid (after rounding; before rounding the CKKS error is
 * the flooding noise, σ = 2^36·√t/2^44 ≈ 0.0055 grid units for t = 2, and rounding is exact below
 * 1/2), a DP query, a decryptor that dies before its PCKS share, a restarted party that reloads
 * its key share, and an aggregator data directory that holds nothing that decrypts.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueryOutcome } from '../client/analyst.ts';
import { generateAnalystKey, loadAnalystKeyFile, writeAnalystKeyFile, type AnalystCkksKey } from '../client/ckks-analyst.ts';
import { PBC_QUERIES } from '../cli/demo-queries.ts';
import { LocalFederation } from '../cli/federation.ts';
import { fromUtf8, toHex, utf8 } from '../crypto/bytes.ts';
import { signDomain } from '../crypto/identity.ts';
import { signEnvelope, type Entry } from '../crypto/transcript.ts';
import { exportedEntries } from '../services/common/transcript-file.ts';
import { PartyGatewayServiceClient, PartyMessage, type AggregatorMessage } from '../gen/blindsum/v1/blindsum.ts';
import { AUTH_DOMAIN, authChallengeBody } from '../services/common/auth.ts';
import { blobDirOf, exportTranscript, readTranscriptFile } from '../services/audit/audit.ts';
import { verifyTranscript } from '../services/audit/verify.ts';
import { recomputeCkksSums } from '../services/audit/verify-ckks-sums.ts';
import { AGGREGATOR_KEY_FILE } from '../services/aggregator/transcript-log.ts';
import { sha256Hex } from '../services/common/ckks.ts';
import { CkksEntryKind } from '../services/common/ckks-kinds.ts';
import { loadIdentityFile } from '../services/common/keys.ts';
import { loadRoster } from '../services/common/roster.ts';
import { chiSquareSurvival } from './dp-chi-square.ts';
import { rebuildTranscript, resignEntry } from './transcript-forge.ts';
import { buildDataset, centralResult, compareResults, localStatistics, numericFields, parseSchema, planQuery, schemaDigest, splitCsvText, type Query } from '../stats/index.ts';

const schemaPath = 'examples/pbc/schema.json';
const schema = parseSchema(JSON.parse(readFileSync(schemaPath, 'utf8')));
const csv = readFileSync('examples/pbc/pbc.csv', 'utf8');
const N = 3;
const parts = splitCsvText(csv, N, 'e2e-ckks');
const all = ['hospital-1', 'hospital-2', 'hospital-3'];
const { dataset } = buildDataset(schema, csv);
/** The error bound that rounding tolerates; the flooding noise is ~90 standard deviations below it. */
const ROUNDING_BOUND = 0.5;

let fed: LocalFederation;
let dir: string;
let key: AnalystCkksKey;
let collectiveSha = '';

/** The CKKS result must equal the central computation on all rows, exactly on the grid. */
function expectCentral(q: Query, o: QueryOutcome): void {
  expect(o.status, o.error).toBe('done');
  expect([...o.contributors].sort()).toEqual(all);
  const plan = planQuery(q, schema, { parties: N, ringBits: 64 });
  expect(o.exactSums).toEqual(localStatistics(q, schema, plan, dataset).sums);
  expect(compareResults(o.result!, centralResult(q, schema, dataset)).maxRelDiff).toBeLessThan(1e-6);
  expect(o.ckks!.maxRawError).toBeLessThan(ROUNDING_BOUND);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blindsum-e2e-ckks-'));
  fed = await LocalFederation.start({ dir, schemaPath, partyData: parts, threshold: 2, roundTimeoutMs: 15_000, ckks: true, analysts: ['e2e', 'e2e-dp', 'ckks-noise'] });
  collectiveSha = await fed.waitCollectiveKey();
  writeAnalystKeyFile(join(dir, 'analyst.ckks.key'), await generateAnalystKey());
  key = loadAnalystKeyFile(join(dir, 'analyst.ckks.key'));
}, 120_000);

afterAll(async () => {
  await fed?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('CKKS backend end to end (3 party processes, t = 2)', () => {
  it('the key ceremony leaves every party the same collective key and a 0600 key share; the analyst key file is 0600', async () => {
    const c = fed.client();
    try {
      const k = await c.getCollectiveKey();
      expect(k.status).toBe('ready');
      expect(sha256Hex(k.publicKey)).toBe(collectiveSha);
      expect(k.parties).toEqual(all);
    } finally {
      c.close();
    }
    for (let i = 0; i < N; i++) {
      const path = join(fed.partyStateDir(i), 'ckks-key.json');
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const stored = JSON.parse(readFileSync(path, 'utf8')) as { publicKeySha256: string; point: number };
      expect(stored.publicKeySha256).toBe(collectiveSha);
      expect(stored.point).toBe(i + 1);
    }
    expect(statSync(join(dir, 'analyst.ckks.key')).mode & 0o777).toBe(0o600);
  });

  it(`every query kind equals the central result exactly on the fixed-point grid (CKKS error before rounding < ${ROUNDING_BOUND})`, async () => {
    const c = fed.client('e2e');
    try {
      let worst = 0;
      for (const q of PBC_QUERIES) {
        const o = await c.run(q, { backend: 'ckks', ckksKey: key });
        expectCentral(q, o);
        worst = Math.max(worst, o.ckks!.maxRawError);
        // the aggregator itself holds no plaintext result
        const stored = await c.getResult(o.queryId);
        expect(stored.resultJson).toBe('');
        expect(stored.exactSums).toEqual([]);
        expect(stored.ckks!.ciphertexts.length).toBeGreaterThan(0);
      }
      expect(worst).toBeGreaterThan(0); // the flooding noise is there before rounding
      expect(worst).toBeLessThan(0.1); // ≈ 18 σ for t = 2
    } finally {
      c.close();
    }
  });

  it('a stratified Kaplan–Meier query with its log-rank test through CKKS equals the central one exactly', async () => {
    const c = fed.client('e2e');
    try {
      const q: Query = { kind: 'kaplan_meier', columns: [], filter: [], time: 'time', event: 'status', positive: ['2'], strata: 'stage', times: [1000, 3000] };
      const o = await c.run(q, { backend: 'ckks', ckksKey: key });
      expectCentral(q, o);
      expect(o.result).toEqual(centralResult(q, schema, dataset));
    } finally {
      c.close();
    }
  });

  it('a differentially private query through CKKS carries its noise scale and stays within it of the central result', async () => {
    const c = fed.client('e2e-dp');
    try {
      const q: Query = { kind: 'mean', columns: ['age'], filter: [] };
      const o = await c.run(q, { backend: 'ckks', ckksKey: key, privacy: { rho: 0.25 } });
      expect(o.status, o.error).toBe('done');
      expect(o.rhoCharged).toBe(0.25);
      const sd = o.uncertainty['mean']!;
      expect(sd).toBeGreaterThan(0);
      const central = numericFields(centralResult(q, schema, dataset)).find(([n]) => n === 'mean')![1]!;
      const got = numericFields(o.result!).find(([n]) => n === 'mean')![1]!;
      expect(Math.abs(got - central)).toBeLessThan(8 * sd);
      // The noise verdict, computed by the analyst's client after decryption (stats/noise-verdict.ts).
      expect(o.noise).toMatchObject({ status: 'ok', quantity: 'mean of age', rho: 0.25 });
      expect((await c.getBudget()).spentRho).toBeCloseTo(0.25, 12);
    } finally {
      c.close();
    }
  });

  it('over 16 DP repetitions through CKKS, histogram counts are centred on the central counts with the declared standard deviation', async () => {
    // One-year bins of age (55 bins, below, above: 57 entries per release).
    const h: Query = { kind: 'histogram', columns: ['age'], bins: Array.from({ length: 56 }, (_, i) => 25 + i), filter: [] };
    const cr = centralResult(h, schema, dataset);
    const centralCounts = cr.kind === 'histogram' ? [...cr.counts, cr.below, cr.above] : [];
    const c = fed.client('ckks-noise');
    const z: number[] = [];
    try {
      for (let batch = 0; batch < 4; batch++) {
        const outs = await Promise.all(Array.from({ length: 4 }, () => c.run(h, { backend: 'ckks', ckksKey: key, privacy: { rho: 0.3 } })));
        for (const o of outs) {
          expect(o.status, o.error).toBe('done');
          expect(o.noiseStd).toHaveLength(centralCounts.length);
          o.aggregate.forEach((x, i) => z.push((x - centralCounts[i]!) / o.noiseStd[i]!));
        }
      }
    } finally {
      c.close();
    }
    // 16 releases × 57 entries = 912 standardized noise values, independent, each ~N(0, 1) if the
    // declared scale is right (the CKKS flooding noise, ~0.005 grid units, is rounded away). The
    // centre is known, so Σz² ~ χ²(912): both of its tails at 1e-6 (≈ 4.75 sd) and |Σz| < 5·√n
    // (5 sd) fail a calibrated mechanism with probability < 3e-6 per run. A declared sd off by 20%
    // (variance × 1.44 or × 0.64) puts Σz²/n beyond the tails (1.24 and 0.79) with probability
    // > 0.999. (Before: 96 values, variance within [0.45, 1.6], failed a calibrated mechanism in
    // ~2.5e-4 of runs.)
    const n = z.length;
    const sumSq = z.reduce((a, b) => a + b * b, 0);
    const upper = chiSquareSurvival(sumSq, n);
    expect(n).toBe(912);
    expect(Math.abs(z.reduce((a, b) => a + b, 0)) / Math.sqrt(n)).toBeLessThan(5);
    expect(upper, `Σz²/n = ${(sumSq / n).toFixed(3)}`).toBeGreaterThan(1e-6);
    expect(upper, `Σz²/n = ${(sumSq / n).toFixed(3)}`).toBeLessThan(1 - 1e-6);
  }, 180_000);

  it('a party that dies after sending its encrypted input (before decryption): the two others decrypt, and its input counts', async () => {
    // hospital-1 is first in the decryptor order; it exits 200 ms after its EncryptedInput, so it
    // is either gone before PCKS starts or fails its PCKS round and is replaced.
    await fed.killParty(0);
    fed.startParty(0, { BLINDSUM_TEST_EXIT_AFTER: 'EncryptedInput' });
    await fed.waitConnected(all);
    const exit = fed.partyExit(0);
    const c = fed.client('e2e');
    try {
      const q = PBC_QUERIES.find((x) => x.kind === 'linear_regression')!;
      const o = await c.run(q, { backend: 'ckks', ckksKey: key });
      expect(await exit).toBe(75);
      expectCentral(q, o);
      expect(o.ckks!.decryptors).toEqual(['hospital-2', 'hospital-3']);
    } finally {
      c.close();
    }
  });

  it('a restarted party reloads its key share from its state directory and decrypts again', async () => {
    await fed.killParty(0);
    fed.startParty(0, {});
    await fed.waitConnected(all);
    const c = fed.client('e2e');
    try {
      const q = PBC_QUERIES.find((x) => x.kind === 'contingency')!;
      const o = await c.run(q, { backend: 'ckks', ckksKey: key });
      expectCentral(q, o);
      expect(o.ckks!.decryptors).toEqual(['hospital-1', 'hospital-2']);
      expect(readFileSync(join(dir, 'hospital-1.log'), 'utf8')).toMatch(/CKKS key share loaded/);
      expect((await c.getCollectiveKey()).publicKeySha256).toBe(collectiveSha); // no new ceremony
    } finally {
      c.close();
    }
  });

  it("the aggregator's data directory holds the collective public key but no party's key share and not the analyst's secret key", () => {
    // Every file, the transcript's blobs (DATA_DIR/transcript-blobs/) included.
    const files = readdirSync(fed.aggregatorDataDir, { recursive: true, encoding: 'utf8' })
      .map((f) => join(fed.aggregatorDataDir, f)).filter((f) => statSync(f).isFile()).map((f) => readFileSync(f));
    const found = (needle: Uint8Array): boolean => files.some((b) => b.indexOf(Buffer.from(needle)) >= 0);
    // 48 bytes from inside each secret's residues (past the SEAL headers)
    const window = (bytes: Uint8Array, at: number): Uint8Array => bytes.subarray(at, at + 48);
    for (let i = 0; i < N; i++) {
      const stored = JSON.parse(readFileSync(join(fed.partyStateDir(i), 'ckks-key.json'), 'utf8')) as { shamirShare: string; publicKey: string };
      const share = new Uint8Array(Buffer.from(stored.shamirShare, 'base64'));
      for (const at of [200, share.length / 2, share.length - 100]) expect(found(window(share, Math.floor(at)))).toBe(false);
      if (i === 0) expect(found(window(new Uint8Array(Buffer.from(stored.publicKey, 'base64')), 5000))).toBe(true); // the search does find what is there
    }
    for (const at of [200, key.secretKey.length / 2]) expect(found(window(key.secretKey, Math.floor(at)))).toBe(false);
  });

  it('the transcript verifies offline (key ceremony, every CKKS release); a PCKS request rewritten by the aggregator is caught', () => {
    const file = exportTranscript(fed.aggregatorDataDir, {}, join(dir, 'transcript.json'));
    const roster = loadRoster(fed.rosterPath);
    const report = verifyTranscript(file, roster, { schema });
    expect(report.ok, JSON.stringify(report.failure)).toBe(true);
    const ceremony = report.sessions.find((x) => x.kind === 'ckks-key-ceremony')!;
    expect(ceremony.status).toBe('released');
    expect(ceremony.note).toContain(collectiveSha.slice(0, 16));
    const releases = report.sessions.filter((x) => x.note?.startsWith('released encrypted'));
    expect(releases.length).toBe(PBC_QUERIES.length + 4 + 16); // + the Kaplan–Meier, DP, dropout and restart queries, + 16 DP repetitions
    // A malicious aggregator drops a contributor from a PCKS request, re-signs it and re-chains the log.
    const secret = loadIdentityFile(join(fed.aggregatorDataDir, AGGREGATOR_KEY_FILE)).identity.secretKey;
    const entries: Entry[] = exportedEntries(file);
    const k = entries.findIndex((e) => e.kind === CkksEntryKind.PCKSRequest);
    const e = entries[k]!;
    const rec = JSON.parse(fromUtf8(e.body)) as { contributors: string[] };
    rec.contributors = rec.contributors.slice(1);
    entries[k] = resignEntry(secret, e, utf8(JSON.stringify(rec)));
    rebuildTranscript(file, entries, secret);
    const bad = verifyTranscript(file, roster, { schema });
    expect(bad.ok).toBe(false);
    expect(bad.failure!.index).toBe(file.from + k);
    expect(bad.failure!.reason).toMatch(/other contributors than the parties whose encrypted input is logged/);
  });

  it('the auditor recomputes every homomorphic sum from the logged encrypted inputs; a PCKS request for another sum is caught at its entry (and at the shares that name the real sum)', async () => {
    const file = exportTranscript(fed.aggregatorDataDir, {}, join(dir, 'transcript-sums.json'));
    const roster = loadRoster(fed.rosterPath);
    const good = await recomputeCkksSums(file);
    expect(good.failure, JSON.stringify(good.failure)).toBeUndefined();
    expect(good.checked.length).toBe(PBC_QUERIES.length + 4 + 16);
    expect(good.keys.length).toBeGreaterThanOrEqual(1); // the collective key, recomputed from the logged CKG shares and CRS nonces
    // A malicious aggregator records another sum digest in the request, re-signs it and re-chains
    // the log: the signatures, the order and the contributor lists all still verify; the recomputed
    // sum does not, nor do the decryptors' signed shares, which name the sum they recomputed.
    const secret = loadIdentityFile(join(fed.aggregatorDataDir, AGGREGATOR_KEY_FILE)).identity.secretKey;
    const entries: Entry[] = exportedEntries(file);
    const k = entries.findIndex((e) => e.kind === CkksEntryKind.PCKSRequest);
    const e = entries[k]!;
    const rec = JSON.parse(fromUtf8(e.body)) as { sumSha256: string[] };
    rec.sumSha256[0] = sha256Hex(utf8('some other ciphertext'));
    entries[k] = resignEntry(secret, e, utf8(JSON.stringify(rec)));
    rebuildTranscript(file, entries, secret);
    // The decryptors' signed shares name the sum they recomputed themselves: caught at the first share.
    const named = verifyTranscript(file, roster, { schema });
    expect(named.failure?.index).toBe(file.from + entries.findIndex((x, i) => i > k && x.kind === CkksEntryKind.PCKSShare));
    expect(named.failure?.reason).toMatch(/names other sums than the PCKS request it answers/);
    const bad = await recomputeCkksSums(file);
    expect(bad.failure?.index).toBe(file.from + k);
    expect(bad.failure?.reason).toMatch(/homomorphic sum of the logged encrypted inputs .* is not the sum the aggregator asked/);
  });

  it('CKKS inputs and PCKS shares are logged by digest: a tampered ciphertext blob fails at its entry; without the blobs everything else verifies and the report lists what was not checked', async () => {
    const path = join(dir, 'transcript-blobs.json');
    const file = exportTranscript(fed.aggregatorDataDir, {}, path);
    const roster = loadRoster(fed.rosterPath);
    const entries = exportedEntries(file);
    const k = entries.findIndex((e) => e.kind === CkksEntryKind.EncryptedInput);
    expect(entries[k]!.bodyDigest).toBeDefined();
    expect(entries.filter((e) => e.kind === CkksEntryKind.PCKSShare).every((e) => e.bodyDigest && !e.blobAbsent)).toBe(true);
    const blob = join(blobDirOf(path), toHex(entries[k]!.bodyDigest!));
    const bytes = readFileSync(blob);
    bytes[bytes.length - 9]! ^= 1;
    writeFileSync(blob, bytes);
    const bad = verifyTranscript(readTranscriptFile(path), roster, { schema });
    expect(bad.failure).toMatchObject({ index: file.from + k, kind: CkksEntryKind.EncryptedInput });
    expect(bad.failure!.reason).toMatch(/^blob [0-9a-f]{64} does not match the digest this entry logs/);
    // Exported without blobs (or after --blob-retention-days): not a failure, not a silent pass.
    const bare = join(dir, 'transcript-bare.json');
    exportTranscript(fed.aggregatorDataDir, {}, bare, false);
    const f = readTranscriptFile(bare);
    const r = verifyTranscript(f, roster, { schema });
    expect(r.ok, JSON.stringify(r.failure)).toBe(true);
    expect(r.blobs!.checked).toBe(0);
    const releases = r.sessions.filter((x) => x.note?.startsWith('released encrypted'));
    expect(releases.length).toBe(PBC_QUERIES.length + 4 + 16);
    expect(releases.every((x) => x.unchecked?.length && /NOT checked \(blobs absent\)/.test(x.note!))).toBe(true);
    expect(r.unchecked!.join('\n')).toMatch(/the encrypted inputs of hospital-\d.* \(their match with the signed commitments, and the homomorphic sum\).* NOT checked/);
    expect(r.unchecked!.join('\n')).toMatch(/the PCKS share of hospital-\d \(blob absent\) counted as \d+ ciphertexts against τ\(n\)/);
    const sums = await recomputeCkksSums(f);
    expect(sums.failure).toBeUndefined();
    expect(sums.checked).toEqual([]);
    expect(sums.skipped.length).toBe(PBC_QUERIES.length + 4 + 16);
    expect(sums.keys.length).toBeGreaterThanOrEqual(1); // CKG shares are inline: the key is still recomputed
  });

  it('a party that sends a malformed ciphertext is dropped with the reason; the others finish the query and the aggregator keeps running', async () => {
    // hospital-3's process is replaced by a client holding its identity key that answers with garbage.
    await fed.killParty(2);
    const identity = loadIdentityFile(join(dir, 'hospital-3.key'));
    const rogue = new PartyGatewayServiceClient(fed.address, credentials.createInsecure());
    const stream = rogue.connect();
    const welcomed = new Promise<void>((resolve) => {
      stream.on('data', (m: AggregatorMessage) => {
        const b = m.body;
        if (b?.$case === 'challenge') {
          stream.write({ body: { $case: 'auth', value: { signature: signDomain(identity.identity.secretKey, AUTH_DOMAIN, authChallengeBody(b.value.aggregatorId, b.value.nonce, identity.id)) } } });
        } else if (b?.$case === 'welcome') resolve();
        else if (b?.$case === 'startSession' || b?.$case === 'inputCommitments') {
          // commits to the garbage, then reveals it once the commitments are forwarded
          const sessionId = b.value.sessionId;
          const garbage = new Uint8Array(245_788).fill(7);
          const reply: NonNullable<PartyMessage['body']> = b.$case === 'startSession'
            ? { $case: 'inputCommit', value: { sessionId, ciphertextsSha256: [sha256Hex(garbage)] } }
            : { $case: 'encryptedInput', value: { sessionId, ciphertexts: [garbage], commitmentsSha256: '', offset: 0 } };
          const kind = b.$case === 'startSession' ? CkksEntryKind.InputCommit : CkksEntryKind.EncryptedInput;
          const body = PartyMessage.encode({ body: reply }).finish();
          const env = signEnvelope(identity.identity.secretKey, kind, sessionId, identity.id, body);
          stream.write({ body: { $case: 'envelope', value: { kind: env.kind, sessionId, body, signature: env.signature } } });
        }
      });
      stream.on('error', () => {});
    });
    stream.write({ body: { $case: 'hello', value: { partyId: identity.id, schemaDigest: schemaDigest(schema), softwareVersion: 'test', lastReceiptIndex: 0n, lastReceiptHead: new Uint8Array(0) } } });
    await welcomed;
    const c = fed.client('e2e');
    try {
      const q: Query = { kind: 'count', columns: [], filter: [] };
      const o = await c.run(q, { backend: 'ckks', ckksKey: key });
      expect(o.status, o.error).toBe('done');
      expect(o.contributors).toEqual(['hospital-1', 'hospital-2']);
      expect(o.refusals.find((r) => r.partyId === 'hospital-3')?.reason).toMatch(/invalid EncryptedInput message: ciphertexts\[0\]: wrong magic/);
      const rows = parts.slice(0, 2).reduce((n, p) => n + p.trimEnd().split('\n').length - 1, 0);
      expect(o.result).toMatchObject({ kind: 'count', n: rows });
    } finally {
      c.close();
      stream.end();
      rogue.close();
    }
    fed.startParty(2, {});
    await fed.waitConnected(all);
  });

  it('a changed roster gets a new key ceremony: a new collective key, and every party replaces its key share', async () => {
    const roster = JSON.parse(readFileSync(fed.rosterPath, 'utf8')) as { threshold: number };
    roster.threshold = 3;
    await Promise.all([fed.killAggregator('SIGTERM'), ...all.map((_, i) => fed.killParty(i, 'SIGTERM'))]);
    writeFileSync(fed.rosterPath, JSON.stringify(roster, null, 2));
    await fed.startAggregator();
    for (let i = 0; i < N; i++) fed.startParty(i, {});
    await fed.waitConnected(all);
    const fresh = await fed.waitCollectiveKey();
    expect(fresh).not.toBe(collectiveSha);
    for (let i = 0; i < N; i++) expect((JSON.parse(readFileSync(join(fed.partyStateDir(i), 'ckks-key.json'), 'utf8')) as { publicKeySha256: string }).publicKeySha256).toBe(fresh);
    const c = fed.client('e2e');
    try {
      const q = PBC_QUERIES.find((x) => x.kind === 'histogram')!;
      const o = await c.run(q, { backend: 'ckks', ckksKey: key });
      expectCentral(q, o);
      expect(o.ckks!.decryptors).toEqual(all); // t = 3 now
    } finally {
      c.close();
    }
  });
});
