import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../crypto/bytes.ts';
import { generateIdentity } from '../crypto/identity.ts';
import { EntryKind, TranscriptChain, genesisHead, signEnvelope } from '../crypto/transcript.ts';
import { parseReceipts } from '../services/common/transcript-file.ts';
import { parseRoster } from '../services/common/roster.ts';
import { ReceiptBook } from '../services/party/receipts.ts';

const dir = mkdtempSync(join(tmpdir(), 'blindsum-receipts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const party = generateIdentity();
const other = generateIdentity();
const aggregator = generateIdentity();
const roster = parseRoster({
  federation: 'fed', threshold: 2,
  parties: [{ id: 'hospital-1', publicKey: toHex(party.publicKey) }, { id: 'hospital-2', publicKey: toHex(other.publicKey) }],
  aggregator: { id: 'fed-aggregator', publicKey: toHex(aggregator.publicKey) },
});
const genesis = genesisHead('fed', 'fed-aggregator');

describe("a party's receipt book", () => {
  it('stores (mode 0600, fsync) a receipt signed by the roster aggregator for an envelope it sent, once', () => {
    const book = new ReceiptBook(join(dir, 'a'), 'hospital-1', roster);
    const chain = new TranscriptChain(aggregator.secretKey, genesis);
    const env = signEnvelope(party.secretKey, EntryKind.MaskedInput, 'query-1', 'hospital-1', utf8('y'));
    book.expect(env);
    const link = chain.prepare(env, 1);
    chain.commit(link);
    const r = chain.receipt('hospital-1', link, env);
    expect(book.accept(r)).toBeUndefined();
    expect(book.accept(r)).toMatch(/did not send \(or already receipted\)/);
    book.close();
    expect(statSync(book.path).mode & 0o777).toBe(0o600);
    expect(parseReceipts(readFileSync(book.path, 'utf8'), book.path)).toEqual([r]);
  });

  it('an aggregator that withholds receipts while flooding the party with sessions cannot make it forget an unreceipted envelope: past 4096 it distrusts the aggregator', () => {
    const book = new ReceiptBook(join(dir, 'flood'), 'hospital-1', roster);
    const withheld = signEnvelope(party.secretKey, EntryKind.AdvertiseKeys, 'target-session', 'hospital-1', utf8('keys'));
    book.expect(withheld);
    for (let i = 0; i < 4096; i++) book.expect(signEnvelope(party.secretKey, EntryKind.Refusal, `junk-${i}`, 'hospital-1', utf8('no')));
    expect(book.missing('target-session')).toMatch(/no valid transcript receipt for this party's secagg\/advertise-keys envelope/);
    expect(book.distrust).toMatch(/4096 envelopes this party sent have no receipt/);
    book.close();
  });

  it('refuses receipts signed by another key, for another party, or for an envelope it never sent', () => {
    const book = new ReceiptBook(join(dir, 'b'), 'hospital-1', roster);
    const env = signEnvelope(party.secretKey, EntryKind.Unmasking, 'query-2', 'hospital-1', utf8('shares'));
    book.expect(env);
    const impostor = new TranscriptChain(generateIdentity().secretKey, genesis);
    const link = impostor.prepare(env, 1);
    expect(book.accept(impostor.receipt('hospital-1', link, env))).toMatch(/not signed by the roster's aggregator key/);
    const chain = new TranscriptChain(aggregator.secretKey, genesis);
    const l2 = chain.prepare(env, 1);
    expect(book.accept(chain.receipt('hospital-2', l2, env))).toMatch(/names party "hospital-2"/);
    const never = signEnvelope(party.secretKey, EntryKind.Unmasking, 'query-3', 'hospital-1', utf8('other'));
    expect(book.accept(chain.receipt('hospital-1', chain.prepare(never, 1), never))).toMatch(/did not send/);
    // The genuine receipt is still accepted afterwards.
    expect(book.accept(chain.receipt('hospital-1', l2, env))).toBeUndefined();
    book.close();
  });

  it('keeps the head it holds across a restart (also after a receipt with a long extension proof) and refuses a head that does not extend it', () => {
    const d = join(dir, 'c');
    const chain = new TranscriptChain(aggregator.secretKey, genesis);
    let book = new ReceiptBook(d, 'hospital-1', roster);
    expect(book.anchor).toBeUndefined();
    const send = (session: string): { r: ReturnType<TranscriptChain['receipt']>; hashes: Uint8Array[] } => {
      const env = signEnvelope(party.secretKey, EntryKind.Refusal, session, 'hospital-1', utf8(session));
      book.expect(env);
      const link = chain.prepare(env, 1);
      chain.commit(link);
      return { r: chain.receipt('hospital-1', link, env), hashes: [link.entryHash] };
    };
    const first = send('q-1');
    expect(book.accept(first.r)).toBeUndefined();
    // 1,200 entries of other parties later (about 78 KB of hashes on one line).
    const between: Uint8Array[] = [];
    for (let k = 0; k < 1200; k++) {
      const link = chain.prepare(signEnvelope(other.secretKey, EntryKind.Refusal, `other-${k}`, 'hospital-2', utf8('x')), 1);
      chain.commit(link);
      between.push(link.entryHash);
    }
    const second = send('q-2');
    expect(book.accept(second.r, { start: 1, hashes: [...between, ...second.hashes] })).toBeUndefined();
    expect(readFileSync(book.sentPath, 'utf8').trim().split('\n')).toHaveLength(2);
    book.close();
    book = new ReceiptBook(d, 'hospital-1', roster);
    expect(book.anchor).toEqual({ index: 1201, head: second.r.head });
    // A rewritten chain (same key): its next head does not extend the one held.
    const forged = new TranscriptChain(aggregator.secretKey, genesis, { nextIndex: 1202, head: genesis });
    const env = signEnvelope(party.secretKey, EntryKind.Refusal, 'q-3', 'hospital-1', utf8('q-3'));
    book.expect(env);
    const link = forged.prepare(env, 1);
    expect(book.accept(forged.receipt('hospital-1', link, env), { start: 1202, hashes: [link.entryHash] })).toMatch(/its head does not extend the head this party holds at entry 1201/);
    expect(book.distrust).toMatch(/forked or rewritten transcript/);
    expect(book.missing('q-3')).toMatch(/no valid transcript receipt for this party's secagg\/refusal envelope/);
    book.close();
  });
});
