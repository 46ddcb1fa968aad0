/**
 * Secure-aggregation transcripts built in-process with the real protocol, for the transcript
 * benches and test/transcript-blobs.test.ts: parties running SecAggClient, a SecAggServer, every
 * round message serialized as on the wire and signed in an envelope, aggregator entries signed
 * and chained — either by TranscriptChain in memory (entries of the blob kinds by digest, their
 * blobs in a map) or by the aggregator's real TranscriptLog (SQLite + blob store, party envelopes
 * receipted).
 */
import { toHex, utf8 } from '../crypto/bytes.ts';
import { generateIdentity, type IdentityKeyPair } from '../crypto/identity.ts';
import { ringBytes, ringDecode } from '../crypto/ring.ts';
import { SecAggClient, SecAggServer } from '../crypto/secagg/client.ts';
import { blobDigest, EntryKind, TranscriptChain, genesisHead, signEnvelope, type Envelope, type Receipt } from '../crypto/transcript.ts';
import { AdvertisedKeys, PartyMessage, StartSession, SurvivorList, UnmaskRequest } from '../gen/blindsum/v1/blindsum.ts';
import type { QuerySubmittedRecord, ReleasedRecord } from '../services/common/transcript-records.ts';
import type { TranscriptFile } from '../services/common/transcript-file.ts';
import { logsByDigest, memoryBlobs } from '../services/common/blobs.ts';
import type { TranscriptLog } from '../services/aggregator/transcript-log.ts';
import type { Query } from '../stats/index.ts';

export interface Federation {
  federation: string;
  aggregator: string;
  parties: string[];
  threshold: number;
  ids: IdentityKeyPair[];
  agg: IdentityKeyPair;
  /** The roster JSON (parseRoster / write to a file). */
  rosterJson: { federation: string; threshold: number; parties: { id: string; publicKey: string }[]; aggregator: { id: string; publicKey: string } };
}

export function makeFederation(parties: string[], threshold: number, federation = 'bench', aggregator = 'bench-aggregator'): Federation {
  const ids = parties.map(() => generateIdentity());
  const agg = generateIdentity();
  return {
    federation, aggregator, parties, threshold, ids, agg,
    rosterJson: { federation, threshold, parties: parties.map((id, i) => ({ id, publicKey: toHex(ids[i]!.publicKey) })), aggregator: { id: aggregator, publicKey: toHex(agg.publicKey) } },
  };
}

/** Where entries go: `party` returns the receipt when the sink issues them. */
export interface TranscriptSink {
  party(env: Envelope): Receipt | undefined;
  aggregator(kind: string, session: string, body: Uint8Array): void;
}

/** TranscriptChain in memory: blob kinds by digest (their bodies kept in `blobs`), as the aggregator logs them. */
export class MemorySink implements TranscriptSink {
  readonly chain: TranscriptChain;
  readonly entries: TranscriptFile['entries'] = [];
  readonly blobs = new Map<string, Uint8Array>();
  readonly #fed: Federation;
  #t = 1_700_000_000_000;

  readonly byDigest: (kind: string, length: number) => boolean;

  constructor(fed: Federation, byDigest: (kind: string, length: number) => boolean = logsByDigest) {
    this.#fed = fed;
    this.byDigest = byDigest;
    this.chain = new TranscriptChain(fed.agg.secretKey, genesisHead(fed.federation, fed.aggregator));
  }

  #append(env: Envelope): undefined {
    let digest: Uint8Array | undefined;
    if (this.byDigest(env.kind, env.body.length)) {
      digest = blobDigest(env.body);
      this.blobs.set(toHex(digest), env.body);
    }
    const link = this.chain.prepare(env, this.#t++, digest);
    this.chain.commit(link);
    this.entries.push({ entry: link.entry, head: link.head, headSignature: link.headSignature });
    return undefined;
  }

  party(env: Envelope): undefined {
    return this.#append(env);
  }

  aggregator(kind: string, session: string, body: Uint8Array): void {
    this.#append(signEnvelope(this.#fed.agg.secretKey, kind, session, this.#fed.aggregator, body));
  }

  file(): TranscriptFile {
    const genesis = this.chain.genesis;
    return {
      federation: this.#fed.federation, aggregatorId: this.#fed.aggregator, genesis, from: 0, previousHead: genesis, previousHeadSignature: new Uint8Array(0),
      logLength: this.entries.length, selection: {}, exportedAtMs: this.#t, entries: [...this.entries], blobs: memoryBlobs(this.blobs),
    };
  }
}

/** The aggregator's real durable log (transcript.sqlite + transcript-blobs/), party envelopes receipted. */
export class LogSink implements TranscriptSink {
  readonly receipts: Receipt[] = [];
  readonly log: TranscriptLog;
  constructor(log: TranscriptLog) {
    this.log = log;
  }
  party(env: Envelope): Receipt {
    const r = this.log.appendParty(env);
    this.receipts.push(r);
    return r;
  }
  aggregator(kind: string, session: string, body: Uint8Array): void {
    this.log.appendAggregator(kind, session, body);
  }
}

export interface SecaggRun {
  sessionId: string;
  /** The query as logged (a count stands in for synthetic vectors: nothing recomputes its plan without a schema). */
  query: Query;
  planDigest: string;
  vectorLength: number;
  /** Each party's ring input (Z_2^64, 2 words per element). */
  inputs: Uint32Array[];
  /** Released result fields (the plan's scales and entry names; finalize()'s JSON). */
  release?: (sums: bigint[]) => Pick<ReleasedRecord, 'scaleBits' | 'entryNames' | 'resultJson'>;
  schemaDigest?: string;
}

/** Runs one query through every Bonawitz round (no dropout) and logs every message; returns the exact sums. */
export function runSecaggQuery(fed: Federation, run: SecaggRun, sink: TranscriptSink): bigint[] {
  const { sessionId } = run;
  const roster = new Map(fed.parties.map((p, i) => [p, fed.ids[i]!.publicKey]));
  const params = { sessionId, parties: fed.parties, threshold: fed.threshold, ringBits: 64 as const, vectorLength: run.vectorLength };
  const submitted: QuerySubmittedRecord = {
    queryId: sessionId, analyst: 'bench', backend: 'secagg', query: run.query, schemaDigest: run.schemaDigest ?? '', planDigest: run.planDigest,
    plannedParties: fed.parties.length, ringBits: 64, vectorLength: run.vectorLength, submittedAtMs: 0, rho: 0, policy: { allowExact: true, budgetRho: 1 },
  };
  sink.aggregator(EntryKind.QuerySubmitted, sessionId, utf8(JSON.stringify(submitted)));
  const start = StartSession.fromPartial({ sessionId, backend: 'secagg', threshold: fed.threshold, ringBits: 64, parties: fed.parties, planDigest: run.planDigest, analyst: 'bench' });
  sink.aggregator(EntryKind.StartSession, sessionId, StartSession.encode(start).finish());
  const party = (i: number, kind: string, body: NonNullable<PartyMessage['body']>): void => {
    sink.party(signEnvelope(fed.ids[i]!.secretKey, kind, sessionId, fed.parties[i]!, PartyMessage.encode({ body }).finish()));
  };
  const server = new SecAggServer(params, roster);
  const clients = fed.parties.map((p, i) => new SecAggClient(params, p, fed.ids[i]!.secretKey, roster));
  const adv = clients.map((c, i) => {
    const m = c.advertiseKeys();
    server.receiveAdvertiseKeys(m);
    party(i, EntryKind.AdvertiseKeys, { $case: 'advertiseKeys', value: { sessionId, cPk: m.cPk, sPk: m.sPk, signature: m.signature } });
    return m;
  });
  const u1 = server.closeAdvertiseKeys();
  sink.aggregator(EntryKind.AdvertisedKeys, sessionId, AdvertisedKeys.encode({ sessionId, keys: u1.map((m) => ({ partyId: m.party, cPk: m.cPk, sPk: m.sPk, signature: m.signature })) }).finish());
  clients.forEach((c, i) => {
    const m = c.shareKeys(adv);
    server.receiveShareKeys(m);
    party(i, EntryKind.ShareKeys, { $case: 'shareKeys', value: { sessionId, shares: m.shares } });
  });
  const routed = server.closeShareKeys();
  clients.forEach((c, i) => {
    const m = c.maskedInput(routed.get(fed.parties[i]!)!, run.inputs[i]!);
    server.receiveMaskedInput(m);
    party(i, EntryKind.MaskedInput, { $case: 'maskedInput', value: { sessionId, masked: ringBytes(m.masked), offset: 0n } });
  });
  const u3 = server.closeMaskedInputCollection();
  sink.aggregator(EntryKind.SurvivorList, sessionId, SurvivorList.encode({ sessionId, survivors: u3 }).finish());
  clients.forEach((c, i) => {
    const m = c.consistencyCheck(u3);
    server.receiveConsistencyCheck(m);
    party(i, EntryKind.ConsistencyCheck, { $case: 'consistencyCheck', value: { sessionId, signature: m.signature } });
  });
  const req = server.closeConsistencyCheck();
  sink.aggregator(EntryKind.UnmaskRequest, sessionId, UnmaskRequest.encode({ sessionId, survivors: req.survivors, dropped: req.dropped, signatures: req.signatures.map((s) => ({ partyId: s.party, signature: s.signature })) }).finish());
  clients.forEach((c, i) => {
    const m = c.unmask(req);
    server.receiveUnmasking(m);
    party(i, EntryKind.Unmasking, { $case: 'unmasking', value: { sessionId, selfMaskShares: m.selfMaskShares, maskKeyShares: m.maskKeyShares } });
  });
  const sums = ringDecode(server.finish(), 64);
  const released: ReleasedRecord = {
    queryId: sessionId, contributors: u3, exactSums: sums.map(String), ...(run.release ? run.release(sums) : { scaleBits: [], entryNames: [], resultJson: '' }),
  };
  sink.aggregator(EntryKind.Released, sessionId, utf8(JSON.stringify(released)));
  return sums;
}

/** A synthetic query of `vectorLength` ring elements per party (random values below 2^32), logged as a count. */
export function syntheticRun(sessionId: string, parties: number, vectorLength: number, seed = 1): SecaggRun {
  let x = seed >>> 0 || 1;
  const inputs = Array.from({ length: parties }, () => {
    const v = new Uint32Array(2 * vectorLength);
    for (let i = 0; i < v.length; i += 2) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      v[i] = x;
    }
    return v;
  });
  return { sessionId, query: { kind: 'count', columns: [], filter: [] }, planDigest: `synthetic-${vectorLength}`, vectorLength, inputs };
}
