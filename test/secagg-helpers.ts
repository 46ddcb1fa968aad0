/** In-process harness for the secure-aggregation state machines (real crypto, no mocks). */
import { generateIdentity } from '../crypto/identity.ts';
import type { IdentityKeyPair } from '../crypto/identity.ts';
import { expandMask } from '../crypto/prg.ts';
import { SecAggClient, SecAggServer } from '../crypto/secagg/client.ts';
import type { PartyId, SecAggParams } from '../crypto/secagg/client.ts';

export const PARTIES = ['h01', 'h02', 'h03', 'h04', 'h05'];

export interface Harness {
  params: SecAggParams;
  identities: Map<PartyId, IdentityKeyPair>;
  roster: Map<PartyId, Uint8Array>;
  clients: Map<PartyId, SecAggClient>;
  server: SecAggServer;
  inputs: Map<PartyId, Uint32Array>;
}

export function makeHarness(overrides: Partial<SecAggParams> = {}): Harness {
  const params: SecAggParams = { sessionId: 'query-1', parties: PARTIES, threshold: 3, ringBits: 32, vectorLength: 257, ...overrides };
  const identities = new Map(params.parties.map((p) => [p, generateIdentity()]));
  const roster = new Map(params.parties.map((p) => [p, identities.get(p)!.publicKey]));
  const clients = new Map(params.parties.map((p) => [p, new SecAggClient(params, p, identities.get(p)!.secretKey, roster)]));
  const server = new SecAggServer(params, roster);
  // Deterministic, full-range inputs: the keystream of a fixed per-party seed.
  const words = params.vectorLength * (params.ringBits / 32);
  const inputs = new Map(params.parties.map((p, i) => [p, expandMask(new Uint8Array(32).fill(i + 1), words)]));
  return { params, identities, roster, clients, server, inputs };
}

/** Σ inputs over `members` modulo 2^ringBits with BigInt (the reference). */
export function plainSum(h: Harness, members: PartyId[]): Uint32Array {
  const { ringBits, vectorLength } = h.params;
  const out = new Uint32Array(vectorLength * (ringBits / 32));
  const step = ringBits / 32;
  for (let i = 0; i < out.length; i += step) {
    let acc = 0n;
    for (const p of members) {
      const v = h.inputs.get(p)!;
      acc += ringBits === 32 ? BigInt(v[i]!) : (BigInt(v[i + 1]!) << 32n) | BigInt(v[i]!);
    }
    acc = BigInt.asUintN(ringBits, acc);
    out[i] = Number(acc & 0xffffffffn);
    if (ringBits === 64) out[i + 1] = Number(acc >> 32n);
  }
  return out;
}

export const ROUNDS = ['AdvertiseKeys', 'ShareKeys', 'MaskedInputCollection', 'ConsistencyCheck', 'Unmasking'] as const;
export type Round = (typeof ROUNDS)[number];

/**
 * Runs the protocol. `silentFrom.get(p) = round` means p sends nothing from that round on
 * (so p "drops after" the previous round). Returns the server's result and U3.
 */
export function runProtocol(h: Harness, silentFrom = new Map<PartyId, Round>()): { sum: Uint32Array; u3: PartyId[] } {
  const sends = (p: PartyId, round: Round) => {
    const r = silentFrom.get(p);
    return r === undefined || ROUNDS.indexOf(round) < ROUNDS.indexOf(r);
  };
  const { clients, server } = h;
  const live = (round: Round) => [...clients.values()].filter((c) => sends(c.party, round));
  for (const c of live('AdvertiseKeys')) server.receiveAdvertiseKeys(c.advertiseKeys());
  const u1 = server.closeAdvertiseKeys();
  const inU1 = new Set(u1.map((m) => m.party));
  for (const c of live('ShareKeys').filter((c) => inU1.has(c.party))) server.receiveShareKeys(c.shareKeys(u1));
  const routed = server.closeShareKeys();
  for (const c of live('MaskedInputCollection').filter((c) => routed.has(c.party))) {
    server.receiveMaskedInput(c.maskedInput(routed.get(c.party)!, h.inputs.get(c.party)!));
  }
  const u3 = server.closeMaskedInputCollection();
  for (const c of live('ConsistencyCheck').filter((c) => u3.includes(c.party))) server.receiveConsistencyCheck(c.consistencyCheck(u3));
  const request = server.closeConsistencyCheck();
  const signers = new Set(request.signatures.map((s) => s.party));
  for (const c of live('Unmasking').filter((c) => signers.has(c.party))) server.receiveUnmasking(c.unmask(request));
  return { sum: server.finish(), u3 };
}
