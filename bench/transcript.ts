/**
 * Transcript verification benchmark: a transcript of 100 secure-aggregation queries, built
 * in-process (no gRPC) with the real protocol — 3 parties (t = 2) running SecAggClient on their
 * share of the pbc data, a SecAggServer, every round message serialized as on the wire and
 * signed in an envelope, aggregator entries signed and chained by TranscriptChain — then
 * verified offline as `blindsum audit verify` does (with the schema: plans and results
 * recomputed, every masked sum replayed and unmasked).
 * Run: ./node_modules/.bin/node bench/run.ts
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { toHex, utf8 } from '../crypto/bytes.ts';
import { generateIdentity } from '../crypto/identity.ts';
import { ringBytes, ringDecode, ringEncode } from '../crypto/ring.ts';
import { SecAggClient, SecAggServer } from '../crypto/secagg/client.ts';
import { EntryKind, TranscriptChain, genesisHead, signEnvelope } from '../crypto/transcript.ts';
import { AdvertisedKeys, PartyMessage, StartSession, SurvivorList, UnmaskRequest } from '../gen/blindsum/v1/blindsum.ts';
import type { QuerySubmittedRecord, ReleasedRecord } from '../services/audit/records.ts';
import { parseTranscript, serializeTranscript, type TranscriptFile } from '../services/audit/transcript-file.ts';
import { verifyTranscript } from '../services/audit/verify.ts';
import { parseRoster } from '../services/common/roster.ts';
import { buildDataset, finalize, localStatistics, parseSchema, planQuery, schemaDigest, splitCsvText, type Query } from '../stats/index.ts';

const QUERIES = 100;
const PARTIES = ['hospital-1', 'hospital-2', 'hospital-3'];
const THRESHOLD = 2;
const AGG = 'bench-aggregator';
const KINDS: Query[] = [
  { kind: 'count', columns: [], filter: [] },
  { kind: 'mean', columns: ['age'], filter: [{ column: 'sex', op: 'eq', values: ['f'] }] },
  { kind: 'histogram', columns: ['age'], bins: [30, 40, 50, 60, 70, 80], filter: [] },
  { kind: 'covariance', columns: ['age', 'bili', 'albumin'], filter: [] },
  { kind: 'linear_regression', columns: ['age', 'albumin', 'protime'], target: 'bili', filter: [] },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function build(): { file: TranscriptFile; rosterJson: unknown; schema: ReturnType<typeof parseSchema> } {
  const schema = parseSchema(JSON.parse(readFileSync(new URL('../examples/pbc/schema.json', import.meta.url), 'utf8')));
  const parts = splitCsvText(readFileSync(new URL('../examples/pbc/pbc.csv', import.meta.url), 'utf8'), PARTIES.length, 'bench');
  const datasets = parts.map((p) => buildDataset(schema, p).dataset);
  const ids = PARTIES.map(() => generateIdentity());
  const agg = generateIdentity();
  const roster = new Map(PARTIES.map((p, i) => [p, ids[i]!.publicKey]));
  const genesis = genesisHead('bench', AGG);
  const chain = new TranscriptChain(agg.secretKey, genesis);
  const entries: TranscriptFile['entries'] = [];
  let t = 1_700_000_000_000;
  const append = (kind: string, session: string, sender: string, body: Uint8Array, secret: Uint8Array): void => {
    const link = chain.prepare(signEnvelope(secret, kind, session, sender, body), t++);
    chain.commit(link);
    entries.push({ entry: link.entry, head: link.head, headSignature: link.headSignature });
  };
  const party = (i: number, session: string, kind: string, body: NonNullable<PartyMessage['body']>): void =>
    append(kind, session, PARTIES[i]!, PartyMessage.encode({ body }).finish(), ids[i]!.secretKey);
  const aggregator = (kind: string, session: string, body: Uint8Array): void => append(kind, session, AGG, body, agg.secretKey);

  for (let n = 0; n < QUERIES; n++) {
    const query = KINDS[n % KINDS.length]!;
    const sessionId = `bench-query-${String(n).padStart(4, '0')}`;
    const plan = planQuery(query, schema, { parties: PARTIES.length, ringBits: 64 });
    const params = { sessionId, parties: PARTIES, threshold: THRESHOLD, ringBits: 64 as const, vectorLength: plan.entries.length };
    const submitted: QuerySubmittedRecord = {
      queryId: sessionId, analyst: 'bench', backend: 'secagg', query, schemaDigest: schemaDigest(schema), planDigest: plan.digest,
      plannedParties: PARTIES.length, ringBits: 64, vectorLength: plan.entries.length, submittedAtMs: t, rho: 0, policy: { allowExact: true, budgetRho: 1 },
    };
    aggregator(EntryKind.QuerySubmitted, sessionId, utf8(JSON.stringify(submitted)));
    const start = StartSession.fromPartial({ sessionId, query: undefined, backend: 'secagg', threshold: THRESHOLD, ringBits: 64, parties: PARTIES, planDigest: plan.digest, analyst: 'bench' });
    aggregator(EntryKind.StartSession, sessionId, StartSession.encode(start).finish());
    const server = new SecAggServer(params, roster);
    const clients = PARTIES.map((p, i) => new SecAggClient(params, p, ids[i]!.secretKey, roster));
    const adv = clients.map((c, i) => {
      const m = c.advertiseKeys();
      server.receiveAdvertiseKeys(m);
      party(i, sessionId, EntryKind.AdvertiseKeys, { $case: 'advertiseKeys', value: { sessionId, cPk: m.cPk, sPk: m.sPk, signature: m.signature } });
      return m;
    });
    const u1 = server.closeAdvertiseKeys();
    aggregator(EntryKind.AdvertisedKeys, sessionId, AdvertisedKeys.encode({ sessionId, keys: u1.map((m) => ({ partyId: m.party, cPk: m.cPk, sPk: m.sPk, signature: m.signature })) }).finish());
    clients.forEach((c, i) => {
      const m = c.shareKeys(adv);
      server.receiveShareKeys(m);
      party(i, sessionId, EntryKind.ShareKeys, { $case: 'shareKeys', value: { sessionId, shares: m.shares } });
    });
    const routed = server.closeShareKeys();
    clients.forEach((c, i) => {
      const m = c.maskedInput(routed.get(PARTIES[i]!)!, ringEncode(localStatistics(query, schema, plan, datasets[i]!).sums, 64));
      server.receiveMaskedInput(m);
      party(i, sessionId, EntryKind.MaskedInput, { $case: 'maskedInput', value: { sessionId, masked: ringBytes(m.masked), offset: 0n } });
    });
    const u3 = server.closeMaskedInputCollection();
    aggregator(EntryKind.SurvivorList, sessionId, SurvivorList.encode({ sessionId, survivors: u3 }).finish());
    clients.forEach((c, i) => {
      const m = c.consistencyCheck(u3);
      server.receiveConsistencyCheck(m);
      party(i, sessionId, EntryKind.ConsistencyCheck, { $case: 'consistencyCheck', value: { sessionId, signature: m.signature } });
    });
    const req = server.closeConsistencyCheck();
    aggregator(EntryKind.UnmaskRequest, sessionId, UnmaskRequest.encode({ sessionId, survivors: req.survivors, dropped: req.dropped, signatures: req.signatures.map((s) => ({ partyId: s.party, signature: s.signature })) }).finish());
    clients.forEach((c, i) => {
      const m = c.unmask(req);
      server.receiveUnmasking(m);
      party(i, sessionId, EntryKind.Unmasking, { $case: 'unmasking', value: { sessionId, selfMaskShares: m.selfMaskShares, maskKeyShares: m.maskKeyShares } });
    });
    const sums = ringDecode(server.finish(), 64);
    const released: ReleasedRecord = {
      queryId: sessionId, contributors: u3, exactSums: sums.map(String), scaleBits: plan.scaleBits, entryNames: plan.entries.map((e) => e.name),
      resultJson: JSON.stringify(finalize(query, schema, plan, sums)),
    };
    aggregator(EntryKind.Released, sessionId, utf8(JSON.stringify(released)));
  }
  const file: TranscriptFile = {
    federation: 'bench', aggregatorId: AGG, genesis, from: 0, previousHead: genesis, previousHeadSignature: new Uint8Array(0),
    logLength: entries.length, selection: {}, exportedAtMs: t, entries,
  };
  const rosterJson = {
    federation: 'bench', threshold: THRESHOLD, parties: PARTIES.map((id, i) => ({ id, publicKey: toHex(ids[i]!.publicKey) })),
    aggregator: { id: AGG, publicKey: toHex(agg.publicKey) },
  };
  return { file, rosterJson, schema };
}

export async function benchTranscript(): Promise<void> {
  const t0 = performance.now();
  const { file, rosterJson, schema } = build();
  const buildMs = performance.now() - t0;
  const text = serializeTranscript(file);
  const roster = parseRoster(rosterJson);
  const times: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t1 = performance.now();
    const report = verifyTranscript(parseTranscript(text), roster, { schema });
    times.push(performance.now() - t1);
    if (!report.ok) throw new Error(`bench transcript did not verify: entry ${report.failure!.index}: ${report.failure!.reason}`);
  }
  const ms = median(times);
  process.stdout.write(
    `\ntranscript: ${QUERIES} secagg queries (${PARTIES.length} parties, t = ${THRESHOLD}, kinds ${KINDS.map((k) => k.kind).join('/')}), built in-process with the real protocol\n` +
      `  ${file.entries.length} entries, ${(text.length / 1024).toFixed(0)} KiB exported; built and signed in ${(buildMs / 1000).toFixed(2)} s\n` +
      `  verify (parse, chain, ${2 * file.entries.length} Ed25519 signatures, replay + unmask of every sum, plans and results recomputed): ` +
      `${(ms / 1000).toFixed(2)} s median of 3 (${(ms / file.entries.length).toFixed(2)} ms/entry, ${(ms / QUERIES).toFixed(1)} ms/query)\n`,
  );
}
