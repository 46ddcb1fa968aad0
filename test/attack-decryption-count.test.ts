/**
 * Issue 13 item 7: decryptions per collective key are bounded. The flooding analysis covers at
 * most τ(n) decrypted ciphertexts per key share (crypto/ckks/params.ts decryptionBound); an
 * aggregator that keeps asking for PCKS shares — new sessions, or retries of the same sum, each
 * with fresh flooding noise — is refused by each party past the bound, durably across restarts,
 * and the aggregator itself retires a key before the bound and re-keys with a new ceremony.
 * Test-only small bounds are injected through constructor / config options.
 *
 * Part 1 drives the real CkksParty (services/party/ckks-sessions.ts, real ledger and state dir)
 * with the real CeremonyServer as the aggregator's crypto; part 2 runs a real aggregator and three
 * party nodes in process over gRPC on 127.0.0.1.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalystClient, AnalystError } from '../client/analyst.ts';
import { generateAnalystKey, type AnalystCkksKey } from '../client/ckks-analyst.ts';
import { toHex } from '../crypto/bytes.ts';
import { CeremonyServer } from '../crypto/ckks/ceremony-server.ts';
import { decryptionBound, PARAMETER_SETS } from '../crypto/ckks/params.ts';
import { generateIdentity } from '../crypto/identity.ts';
import type { AggregatorMessage, PartyMessage, SignedContribution } from '../gen/blindsum/v1/blindsum.ts';
import { StartSession } from '../gen/blindsum/v1/blindsum.ts';
import { resolveAggregatorConfig } from '../services/aggregator/config.ts';
import { createAggregator } from '../services/aggregator/server.ts';
import { CKKS_PARAMS, ckksContext, rosterDigest, sha256Hex } from '../services/common/ckks.ts';
import { queryToProto } from '../services/common/query-codec.ts';
import { parseRoster, type Roster } from '../services/common/roster.ts';
import type { IdentityFile } from '../services/common/keys.ts';
import { writeNewIdentityFile } from '../services/common/keys.ts';
import { CkksParty } from '../services/party/ckks-sessions.ts';
import type { PartyConfig } from '../services/party/config.ts';
import { resolvePartyConfig } from '../services/party/config.ts';
import { DecryptionCount } from '../services/party/decryption-count.ts';
import { PartyLedger } from '../services/party/ledger.ts';
import { createPartyNode, type PartyNode } from '../services/party/node.ts';
import { buildDataset, DP_GRID_BITS, parseSchema, planQuery, schemaDigest, splitCsvText, type Query } from '../stats/index.ts';

import { randomUUID } from 'node:crypto';
import { writeAnalystRosterFile } from '../services/common/analysts.ts';
import { authorize, testAnalysts } from './analyst-harness.ts';
import { signedContribution } from './ckks-inprocess.ts';

const schemaPath = 'examples/pbc/schema.json';
const schema = parseSchema(JSON.parse(readFileSync(schemaPath, 'utf8')));
const csv = readFileSync('examples/pbc/pbc.csv', 'utf8');
const ids = ['hospital-1', 'hospital-2', 'hospital-3'];
const count: Query = { kind: 'count', columns: [], filter: [] };
const dirs: string[] = [];
const silent = (): void => {};

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'blindsum-decryptions-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

type Body = NonNullable<AggregatorMessage['body']>;
type Reply = NonNullable<PartyMessage['body']>;

describe('a party counts its PCKS shares per collective key and refuses past the bound', () => {
  const identities: IdentityFile[] = ids.map((id) => ({ id, identity: generateIdentity() }));
  const analysts = testAnalysts('fed');
  const roster: Roster = parseRoster({
    federation: 'fed', threshold: 2, parties: identities.map((p) => ({ id: p.id, publicKey: toHex(p.identity.publicKey) })),
    aggregator: { id: 'fed-aggregator', publicKey: toHex(generateIdentity().publicKey) }, operator: analysts.operatorEntry,
  });
  const parts = splitCsvText(csv, ids.length, 'decryption-count');
  const stateDirs = ids.map(() => tempDir());
  const BOUND = 3;
  let analyst: AnalystCkksKey;
  let parties: CkksParty[];
  let ledgers: PartyLedger[];

  const config = (k: number): PartyConfig => {
    const { dataset, report } = buildDataset(schema, parts[k]!);
    return {
      aggregator: '127.0.0.1:1', identity: identities[k]!, roster, schema, schemaDigest: schemaDigest(schema), dataset, loadReport: report,
      policy: { allowedKinds: new Set(['count']), allowedBackends: new Set(['ckks']), minCohort: 5, allowExact: false, budgetRho: 100, maxRhoPerQuery: 1 },
      quiet: true, receiptsDir: join(stateDirs[k]!, 'receipts'), stateDir: stateDirs[k]!, maskedChunkElements: 1 << 17,
    };
  };
  const configs = ids.map((_, k) => config(k));
  const open = (k: number): CkksParty => new CkksParty(configs[k]!, silent, ledgers[k]!, { decryptionBound: BOUND });
  const ask = async (k: number, body: Body): Promise<Reply> => {
    const { reply, replies } = await parties[k]!.handle(body);
    const r = reply ?? [...(replies ?? [])][0]; // one chunk: the input is short
    if (!r) throw new Error(`no reply from ${ids[k]} to ${body.$case}`);
    return r;
  };
  type ValueOf<C extends Reply['$case']> = Extract<Reply, { $case: C }>['value'];
  const value = <C extends Reply['$case']>(r: Reply, c: C): ValueOf<C> => {
    if (r.$case !== c) throw new Error(`expected ${c}, got ${r.$case}${r.$case === 'refusal' ? `: ${r.value.reason}` : ''}`);
    return r.value as unknown as ValueOf<C>;
  };

  beforeAll(async () => {
    analyst = await generateAnalystKey();
    ledgers = stateDirs.map((d) => new PartyLedger(d, 100));
    parties = ids.map((_, k) => open(k));
    // The key ceremony through each party's message handler, the real CeremonyServer in the middle.
    const ctx = await ckksContext();
    const id = 'ceremony-count-0001';
    const params = { ceremonyId: id, paramsName: ctx.params.name, rosterDigest: rosterDigest(roster), threshold: 2, parties: ids };
    const server = new CeremonyServer(ctx, params, roster.publicKeys);
    for (let k = 0; k < 3; k++) {
      const v = value(await ask(k, { $case: 'startCeremony', value: { sessionId: id, params: params.paramsName, rosterDigest: params.rosterDigest, threshold: 2, parties: ids } }), 'crsCommit');
      server.receiveCommit({ party: ids[k]!, commitment: v.commitment, ephemeralKey: v.ephemeralKey, signature: v.signature });
    }
    const commits = server.closeCommits().map((c) => ({ partyId: c.party, commitment: c.commitment, ephemeralKey: c.ephemeralKey, signature: c.signature }));
    for (let k = 0; k < 3; k++) server.receiveReveal({ party: ids[k]!, nonce: value(await ask(k, { $case: 'crsCommitments', value: { sessionId: id, commits } }), 'crsReveal').nonce });
    const nonces = server.closeReveals().map((n) => ({ partyId: n.party, nonce: n.nonce }));
    for (let k = 0; k < 3; k++) {
      const v = value(await ask(k, { $case: 'crsNonces', value: { sessionId: id, nonces } }), 'ckgCommit');
      server.receiveCkgCommit({ party: ids[k]!, commitment: v.commitment, thresholdShareDigests: v.thresholdShareDigests, signature: v.signature });
    }
    const ckgCommits = server.closeCkgCommits().map((c) => ({ partyId: c.party, commitment: c.commitment, thresholdShareDigests: c.thresholdShareDigests, signature: c.signature }));
    for (let k = 0; k < 3; k++) {
      const v = value(await ask(k, { $case: 'ckgCommitments', value: { sessionId: id, commits: ckgCommits } }), 'ckgShare');
      server.receiveShare(ids[k]!, v.share, v.thresholdShares.map((s) => ({ from: s.from, to: s.to, ciphertext: s.ciphertext })));
    }
    const key = server.closeShares();
    for (let k = 0; k < 3; k++) {
      const v = value(await ask(k, {
        $case: 'collectivePublicKey',
        value: { sessionId: id, publicKey: key.publicKey, ckgShares: key.ckgShares.map((s) => ({ partyId: s.party, share: s.share })), thresholdShares: key.routed.get(ids[k]!)! },
      }), 'ckgConfirm');
      server.receiveConfirm(ids[k]!, v.publicKeySha256, v.ckgSharesSha256);
    }
    server.closeConfirms();
    expect(parties.every((p) => p.keySha256 === key.publicKeySha256)).toBe(true);
  }, 120_000);

  afterAll(() => {
    parties?.forEach((p) => p.close());
    ledgers?.forEach((l) => l.close());
  });

  /**
   * A DP count session in which every party contributes, through the protocol's rounds as the
   * aggregator runs them (services/aggregator/ckks/session.ts): StartSession (the analyst's signed
   * request) → each party's InputCommit → InputCommitments (every signed commitment) → each
   * party's EncryptedInput. Returns the PCKS request for the sum: the contributors' signed
   * EncryptedInput envelopes, from which each decryptor recomputes the sum itself.
   */
  async function session(sessionId: string): Promise<Body> {
    const plan = planQuery(count, schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    const start = StartSession.fromPartial({
      sessionId, query: queryToProto(count), backend: 'ckks', threshold: 2, ringBits: 64, parties: ids, planDigest: plan.digest, rho: 0.01,
      ckksKeySha256: parties[0]!.keySha256!, analystKeySha256: sha256Hex(analyst.publicKey),
      ...authorize(analysts, { sessionId, query: count, backend: 'ckks', rho: 0.01, analystKeySha256: sha256Hex(analyst.publicKey) }),
    });
    // Each reply signed with the party's identity key, as its node seals it (services/party/node.ts).
    const signed = (k: number, r: Reply, c: 'inputCommit' | 'encryptedInput'): SignedContribution => {
      value(r, c);
      return signedContribution(configs[k]!, r);
    };
    const commits: SignedContribution[] = [];
    for (let k = 0; k < 3; k++) commits.push(signed(k, await ask(k, { $case: 'startSession', value: start }), 'inputCommit'));
    const contributions: SignedContribution[] = [];
    for (let k = 0; k < 3; k++) contributions.push(signed(k, await ask(k, { $case: 'inputCommitments', value: { sessionId, commits } }), 'encryptedInput'));
    return { $case: 'pcksRequest', value: { sessionId, contributors: ids, decryptors: ids.slice(0, 2), analystPublicKey: analyst.publicKey, contributions, offset: 0 } };
  }

  it('counts every PCKS answer (a retry for the same sum too), refuses the one past the bound with the reason, and the count survives a restart', async () => {
    const s1 = await session(randomUUID());
    value(await ask(0, s1), 'pcksShare');
    value(await ask(0, s1), 'pcksShare'); // the retry after a dropout: fresh flooding noise, counted
    const s2 = await session(randomUUID());
    value(await ask(0, s2), 'pcksShare'); // 3 of τ = 3
    const s3 = await session(randomUUID());
    const refused = await ask(0, s3);
    expect(refused.$case).toBe('refusal');
    expect(refused.$case === 'refusal' && refused.value.reason).toMatch(/decryption bound reached: this party has produced PCKS shares for 3 ciphertexts under collective key [0-9a-f]{12}…; 1 more would pass τ = 3 .*re-key/);
    value(await ask(1, s3), 'pcksShare'); // hospital-2 has answered only s3: 1 of 3
    // Restart hospital-1: the count is on disk (decryptions.sqlite), not in memory.
    parties[0]!.close();
    parties[0] = open(0);
    const counted = new DecryptionCount(stateDirs[0]!);
    try {
      expect(counted.count(parties[0]!.keySha256!)).toBe(3);
    } finally {
      counted.close();
    }
    const s4 = await session(randomUUID());
    const again = await ask(0, s4);
    expect(again.$case === 'refusal' && again.value.reason).toMatch(/decryption bound reached/);
  }, 120_000);

  it('the bound τ(n) is OpenFHE\'s rule with s = 30 and B(n) = 110·n, halved (documented in docs/ckks-parameters.md)', () => {
    expect(decryptionBound(PARAMETER_SETS.N8192, 3)).toBe(1_682_754);
    expect(decryptionBound(PARAMETER_SETS.N8192, 30)).toBe(16_827);
    expect(decryptionBound(PARAMETER_SETS.N4096, 3)).toBe(410);
    expect(CKKS_PARAMS.name).toBe('N8192'); // the federation's set: part 1 runs under it
  });
});

describe('the aggregator retires a key before its bound and re-keys (in process, real gRPC on 127.0.0.1)', () => {
  it('queries under the key until the next one no longer fits, FAILED_PRECONDITION "re-keying", then a new ceremony and a new key that answers', async () => {
    const dir = tempDir();
    const parts = splitCsvText(csv, ids.length, 'rekey');
    const entries = ids.map((id) => {
      const { identity } = writeNewIdentityFile(join(dir, `${id}.key`), id);
      writeFileSync(join(dir, `${id}.csv`), parts[ids.indexOf(id)]!);
      return { id, publicKey: toHex(identity.publicKey) };
    });
    const team = testAnalysts('rekey', 'rekey');
    mkdirSync(join(dir, 'aggregator'), { recursive: true, mode: 0o700 });
    const aggregatorKey = writeNewIdentityFile(join(dir, 'aggregator', 'aggregator.key'), 'rekey-aggregator');
    writeFileSync(join(dir, 'roster.json'), JSON.stringify({
      federation: 'rekey', threshold: 2, parties: entries, aggregator: { id: aggregatorKey.id, publicKey: toHex(aggregatorKey.identity.publicKey) }, operator: team.operatorEntry,
    }));
    writeAnalystRosterFile(join(dir, 'analysts.json'), team.roster);
    writeFileSync(join(dir, 'policy.json'), JSON.stringify({ allowedBackends: ['ckks'], allowExact: true, budgetRho: 10, maxRhoPerQuery: 10 }));
    // τ = 3 ciphertexts; a count is 1 ciphertext and may need n − t + 1 = 2 decryptor sets.
    const config = { ...resolveAggregatorConfig({ listen: '127.0.0.1:0', rosterPath: join(dir, 'roster.json'), schemaPath, dataDir: join(dir, 'aggregator'), roundTimeoutMs: 20_000, quiet: true, ckks: true, allowExact: true, analystsPath: join(dir, 'analysts.json') }), ckksDecryptionBound: 3 };
    const aggregator = createAggregator(config, silent);
    const port = await aggregator.start();
    const nodes: PartyNode[] = ids.map((id) => createPartyNode(resolvePartyConfig({
      aggregator: `127.0.0.1:${port}`, keyPath: join(dir, `${id}.key`), rosterPath: join(dir, 'roster.json'), schemaPath, dataPath: join(dir, `${id}.csv`), policyPath: join(dir, 'policy.json'), quiet: true,
    }), silent));
    const client = new AnalystClient(`127.0.0.1:${port}`, { identity: { id: team.analystId, identity: team.analyst }, federation: 'rekey' });
    const key = await generateAnalystKey();
    try {
      nodes.forEach((n) => n.start());
      const first = await waitKey(client, '');
      const rows = csv.trimEnd().split('\n').length - 1;
      for (let q = 0; q < 2; q++) {
        const o = await client.run(count, { backend: 'ckks', ckksKey: key });
        expect(o.status, o.error).toBe('done');
        expect(o.result).toMatchObject({ kind: 'count', n: rows });
      }
      // 2 of 3 used; the next count may need 2: the key is retired instead of being driven past τ.
      const err = await client.run(count, { backend: 'ckks', ckksKey: key }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(AnalystError);
      expect((err as AnalystError).code).toBe(9); // FAILED_PRECONDITION
      expect((err as Error).message).toMatch(/re-keying: collective key [0-9a-f]{12}… is retired \(decryption budget spent: 2 of τ = 3/);
      const second = await waitKey(client, first);
      expect(second).not.toBe(first);
      const o = await client.run(count, { backend: 'ckks', ckksKey: key });
      expect(o.status, o.error).toBe('done');
      expect(o.result).toMatchObject({ kind: 'count', n: rows });
      for (const id of ids) {
        const stored = JSON.parse(readFileSync(join(dir, `${id}-state`, 'ckks-key.json'), 'utf8')) as { publicKeySha256: string };
        expect(stored.publicKeySha256).toBe(second); // every party replaced its key share
      }
    } finally {
      client.close();
      await Promise.all(nodes.map((n) => n.close()));
      await aggregator.close();
    }
  }, 240_000);
});

/** Waits for a ready collective key other than `not`. */
async function waitKey(client: AnalystClient, not: string): Promise<string> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const k = await client.getCollectiveKey();
    if (k.status === 'ready' && k.publicKeySha256 !== not) return k.publicKeySha256;
    if (Date.now() > deadline) throw new Error(`no new collective key: ${k.status} ${k.message}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
