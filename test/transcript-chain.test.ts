import { describe, expect, it } from 'vitest';
import { generateIdentity } from '../crypto/identity.ts';
import { lengthPrefixed, utf8 } from '../crypto/bytes.ts';
import {
  EntryKind, TranscriptChain, TranscriptFormatError, chainHash, decodeEntry, encodeEntry, envelopeDigest, genesisHead, signEnvelope,
  splitLengthPrefixed, verifyEnvelope, verifyHead, verifyReceipt,
} from '../crypto/transcript.ts';

const party = generateIdentity();
const aggregator = generateIdentity();
const genesis = genesisHead('demo', 'demo-aggregator');

describe('transcript envelopes', () => {
  it('verify under the sender key and fail for another key, kind, session, sender or body', () => {
    const e = signEnvelope(party.secretKey, EntryKind.MaskedInput, 'q-1', 'hospital-1', utf8('masked'));
    expect(verifyEnvelope(party.publicKey, e)).toBe(true);
    expect(verifyEnvelope(aggregator.publicKey, e)).toBe(false);
    expect(verifyEnvelope(party.publicKey, { ...e, kind: EntryKind.Unmasking })).toBe(false);
    expect(verifyEnvelope(party.publicKey, { ...e, session: 'q-2' })).toBe(false);
    expect(verifyEnvelope(party.publicKey, { ...e, sender: 'hospital-2' })).toBe(false);
    expect(verifyEnvelope(party.publicKey, { ...e, body: utf8('maskee') })).toBe(false);
    const sig = e.signature.slice();
    sig[10]! ^= 1;
    expect(verifyEnvelope(party.publicKey, { ...e, signature: sig })).toBe(false);
  });
});

describe('transcript entries', () => {
  it('round-trip through encodeEntry/decodeEntry exactly', () => {
    const e = { ...signEnvelope(party.secretKey, EntryKind.ShareKeys, 'q-1', 'hospital-1', new Uint8Array([0, 1, 2, 255])), index: 7, atMs: 1_700_000_000_123 };
    const bytes = encodeEntry(e);
    expect(decodeEntry(bytes)).toEqual(e);
    expect(encodeEntry(decodeEntry(bytes))).toEqual(bytes);
  });

  it('decodeEntry rejects truncated input, trailing bytes and another version', () => {
    const bytes = encodeEntry({ ...signEnvelope(party.secretKey, EntryKind.Refusal, 'q', 'p', utf8('x')), index: 0, atMs: 0 });
    expect(() => decodeEntry(bytes.subarray(0, bytes.length - 1))).toThrow(TranscriptFormatError);
    expect(() => decodeEntry(new Uint8Array([...bytes, 0]))).toThrow(/trailing/);
    const other = lengthPrefixed('blindsum/transcript/v0', ...splitLengthPrefixed(bytes, 8).slice(1));
    expect(() => decodeEntry(other)).toThrow(/version/);
  });
});

describe('TranscriptChain', () => {
  it('links h_k = SHA-256(h_{k-1} ‖ entry_k) from the genesis head, with a signed head per entry', () => {
    const chain = new TranscriptChain(aggregator.secretKey, genesis);
    let head = genesis;
    for (let k = 0; k < 3; k++) {
      const env = chain.signAsAggregator(EntryKind.SurvivorList, 'q', 'demo-aggregator', utf8(`step ${k}`));
      const link = chain.prepare(env, 1000 + k);
      expect(link.index).toBe(k);
      expect(link.head).toEqual(chainHash(head, link.entry));
      expect(verifyHead(aggregator.publicKey, genesis, k, link.head, link.headSignature)).toBe(true);
      expect(verifyHead(aggregator.publicKey, genesis, k + 1, link.head, link.headSignature)).toBe(false);
      expect(verifyHead(party.publicKey, genesis, k, link.head, link.headSignature)).toBe(false);
      chain.commit(link);
      head = link.head;
    }
    expect(chain.head).toEqual(head);
  });

  it('refuses a link that does not extend the current head', () => {
    const chain = new TranscriptChain(aggregator.secretKey, genesis);
    const a = chain.prepare(chain.signAsAggregator(EntryKind.Failed, 'q', 'agg', utf8('a')), 1);
    const b = chain.prepare(chain.signAsAggregator(EntryKind.Failed, 'q', 'agg', utf8('b')), 1);
    chain.commit(a);
    expect(() => chain.commit(b)).toThrow(/out of order/);
  });

  it('issues receipts that bind party, entry, head and envelope digest', () => {
    const chain = new TranscriptChain(aggregator.secretKey, genesis);
    const env = signEnvelope(party.secretKey, EntryKind.MaskedInput, 'q', 'hospital-1', utf8('y'));
    const link = chain.prepare(env, 5);
    chain.commit(link);
    const r = chain.receipt('hospital-1', link, env);
    expect(r.envelopeDigest).toEqual(envelopeDigest(env));
    expect(verifyReceipt(aggregator.publicKey, genesis, r)).toBe(true);
    expect(verifyReceipt(aggregator.publicKey, genesisHead('other', 'demo-aggregator'), r)).toBe(false);
    expect(verifyReceipt(aggregator.publicKey, genesis, { ...r, index: 1 })).toBe(false);
    expect(verifyReceipt(aggregator.publicKey, genesis, { ...r, party: 'hospital-2' })).toBe(false);
    const head = r.head.slice();
    head[0]! ^= 1;
    expect(verifyReceipt(aggregator.publicKey, genesis, { ...r, head })).toBe(false);
  });
});
