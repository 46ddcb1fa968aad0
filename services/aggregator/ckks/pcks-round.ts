/**
 * One PCKS attempt of a CKKS query, streamed chunk by chunk (docs/ckks-backend.md §2): the
 * aggregator asks t decryptors to switch the homomorphic sum to the analyst's key one chunk of
 * ciphertext positions at a time. Each PCKSRequest carries every contributor's signed
 * EncryptedInput chunk at that offset, read back from the transcript (the aggregator keeps no
 * input in memory); the decryptor verifies them, recomputes the sum at those positions and answers
 * one PCKSShare for the same positions. A decryptor gets its next chunk when it has answered the
 * last one, and runs at most LEAD chunks ahead of the slowest, so the aggregator holds a few chunks
 * of requests and shares, not n inputs or t × n inputs. The shares of a chunk are combined as soon
 * as all t decryptors have answered it. If a decryptor fails, the attempt stops at once (the others
 * are let go without blame) and the caller retries with another decryptor set from the start:
 * Lagrange coefficients depend on the set.
 */
import type { CkksContext } from '../../../crypto/ckks/params.ts';
import { pcksCombine, unpackPcksShare } from '../../../crypto/ckks/pcks.ts';
import { packCiphertext } from '../../../crypto/ckks/wire.ts';
import type { PCKSRequest, SignedContribution } from '../../../gen/blindsum/v1/blindsum.ts';
import type { CkksLayout } from '../../common/ckks.ts';
import { CkksEntryKind } from '../../common/ckks-kinds.ts';
import { encodeOnce } from '../shared-encoding.ts';
import type { PartyGateway } from '../gateway.ts';
import type { TranscriptLog } from '../transcript-log.ts';
import type { RoundRunner } from './rounds.ts';

/** How many chunks a decryptor may be ahead of the slowest one (bounds the requests held). */
const LEAD = 2;
/**
 * Requests sent and not yet answered, over all decryptors: grpc-js copies each message into its
 * own frame, so this bounds the aggregator's send buffers (n × chunk bytes each: 30 MB at 30
 * parties and 1 MiB chunks; at 6 the aggregator peaked at 947–1055 MB). Decryptors on one host run CPU-bound anyway.
 */
const IN_FLIGHT = 4;

export interface PcksAttempt {
  ctx: CkksContext;
  rounds: RoundRunner;
  gateway: PartyGateway;
  transcript: TranscriptLog;
  sessionId: string;
  layout: CkksLayout;
  /** Ciphertexts per EncryptedInput chunk (StartSession.ckks_input_chunk). */
  chunk: number;
  contributors: string[];
  decryptors: string[];
  analystPublicKey: Uint8Array;
  analystKeySha256: string;
  /** The homomorphic sums (SEAL bytes, NTT form) and their hex SHA-256, every position. */
  sums: readonly Uint8Array[];
  sumSha256: readonly string[];
  deadlineMs: number;
}

export interface PcksAttemptResult {
  /** The sums switched to the analyst's key (compact wire form), when every decryptor answered every chunk. */
  ciphertexts?: Uint8Array[];
  /** Why each failed decryptor failed (empty on success). */
  failed: Map<string, string>;
  bytesIn: number;
}

const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

export async function runPcksAttempt(a: PcksAttempt): Promise<PcksAttemptResult> {
  const { ctx, rounds, gateway, transcript, sessionId, layout, chunk, contributors, decryptors, sums, sumSha256 } = a;
  const total = sums.length;
  const chunks = Math.ceil(total / chunk);
  const sent = new Map(decryptors.map((d) => [d, 0]));
  const answered = new Map(decryptors.map((d) => [d, 0]));
  const live = new Set(decryptors);
  const requests = new Map<number, PCKSRequest>();
  const partial = new Map<number, Map<string, Uint8Array[]>>();
  const out = new Array<Uint8Array>(total);
  let combined = 0;
  let bytesIn = 0;

  const signed = (party: string, k: number): SignedContribution => {
    const e = transcript.partyEnvelope(sessionId, party, CkksEntryKind.EncryptedInput, k);
    return { partyId: e.sender, kind: e.kind, sessionId: e.session, body: e.body, signature: e.signature };
  };
  const request = (k: number): PCKSRequest => {
    let m = requests.get(k);
    if (!m) {
      // One request object for every decryptor: encoded once (shared-encoding.ts).
      m = encodeOnce({ sessionId, contributors, decryptors, analystPublicKey: a.analystPublicKey, offset: k * chunk, contributions: contributors.map((p) => signed(p, k)) });
      requests.set(k, m);
    }
    return m;
  };
  /** Sends each live decryptor its next chunk when it has answered the last and is not too far ahead. */
  const pump = (): void => {
    if (live.size === 0 || stopped) return;
    const slowest = Math.min(...[...live].map((d) => answered.get(d)!));
    let inFlight = [...live].reduce((n, d) => n + sent.get(d)! - answered.get(d)!, 0);
    // The decryptors furthest behind first.
    for (const d of [...live].sort((x, y) => answered.get(x)! - answered.get(y)!)) {
      const k = sent.get(d)!;
      if (inFlight >= IN_FLIGHT) break;
      if (k < chunks && k === answered.get(d) && k <= slowest + LEAD) {
        inFlight++;
        gateway.connection(d)?.send({ $case: 'pcksRequest', value: request(k) });
        sent.set(d, k + 1);
      }
    }
    const lowest = Math.min(...[...live].map((d) => sent.get(d)!));
    for (const k of requests.keys()) if (k < lowest) requests.delete(k);
  };
  // One decryptor failing dooms the attempt: nothing more is sent; the others are let go at once,
  // or once they have answered the chunk they hold (logged and receipted like any share, so the
  // transcript holds every share before the next attempt's request).
  let stopped = false;
  rounds.onFailure = (party) => {
    if (!live.delete(party)) return;
    stopped = true;
    for (const d of live) {
      if (sent.get(d) === answered.get(d)) {
        live.delete(d);
        rounds.release(d);
      }
    }
    requests.clear();
  };
  try {
    pump();
    const r = await rounds.collect('PCKSShare', decryptors, (party, body) => {
      if (body.$case !== 'pcksShare' || !live.has(party)) return false;
      const v = body.value;
      const k = answered.get(party)!;
      if (k >= sent.get(party)!) throw new RangeError('a PCKS share for a chunk that was not requested');
      const offset = k * chunk;
      const len = Math.min(chunk, total - offset);
      if (v.offset !== offset) throw new RangeError(`expected the PCKS shares of ciphertexts ${offset}…, got shares at offset ${v.offset}`);
      if (v.shares.length !== len) throw new RangeError(`expected ${len} PCKS shares at offset ${offset}, got ${v.shares.length}`);
      // The share must name exactly what this session asked to key-switch.
      if (!same(v.sumSha256, sumSha256.slice(offset, offset + len))) throw new RangeError('the share names other sums than the homomorphic sum of the contributions');
      if (!same(v.contributors, contributors)) throw new RangeError('the share names other contributors than the PCKS request');
      if (!same(v.decryptors, decryptors)) throw new RangeError('the share names other decryptors than the PCKS request');
      if (v.analystKeySha256 !== a.analystKeySha256) throw new RangeError('the share names another analyst key than the PCKS request');
      const shares = v.shares.map((bytes, i) => unpackPcksShare(ctx, bytes, layout.level, `shares[${offset + i}]`));
      bytesIn += v.shares.reduce((s, b) => s + b.length, 0);
      answered.set(party, k + 1);
      if (stopped) {
        if (k + 1 < sent.get(party)!) return 'more';
        live.delete(party);
        return true;
      }
      const got = partial.get(k) ?? new Map<string, Uint8Array[]>();
      got.set(party, shares);
      partial.set(k, got);
      if (got.size === decryptors.length) {
        for (let i = 0; i < len; i++) out[offset + i] = packCiphertext(ctx, pcksCombine(ctx, sums[offset + i]!, decryptors.map((d) => got.get(d)![i]!)));
        combined += len;
        partial.delete(k);
      }
      // The next request goes after this share is logged and receipted (the party requires its
      // receipt before the session's next step): the round logs it when this callback returns.
      queueMicrotask(pump);
      return k + 1 === chunks ? true : 'more';
    }, a.deadlineMs);
    const complete = r.failed.size === 0 && r.accepted.length === decryptors.length && combined === total;
    return complete ? { ciphertexts: out, failed: r.failed, bytesIn } : { failed: r.failed, bytesIn };
  } finally {
    rounds.onFailure = undefined;
  }
}
