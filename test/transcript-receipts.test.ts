import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../crypto/bytes.ts';
import { generateIdentity } from '../crypto/identity.ts';
import { EntryKind, TranscriptChain, genesisHead, signEnvelope } from '../crypto/transcript.ts';
import { parseReceipts } from '../services/audit/transcript-file.ts';
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
});
