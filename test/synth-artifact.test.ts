/**
 * The model artifact: a signed model loads; any change after signing (a probability, the
 * recorded budget, the signer, the signature) is refused with the reason; a trusted-key list
 * refuses a model re-signed by someone else; a model for another schema is refused.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { rhoFromEpsilonDelta } from '../crypto/dp/accountant.ts';
import { toHex } from '../crypto/bytes.ts';
import { generateIdentity } from '../crypto/identity.ts';
import { seededRandomSource } from '../crypto/dp/random.ts';
import { checkModelSchema, signModel, SynthModelError, verifyModel, type SignedModel } from '../stats/synth/artifact.ts';
import { centralMeasure } from '../stats/synth/marginals.ts';
import { fitSynthesizer } from '../stats/synth/model.ts';
import { loadExample } from './stats-helpers.ts';

const pbc = loadExample('pbc');
const flchain = loadExample('flchain');
const fitter = { id: 'analyst-1', identity: generateIdentity() };
let signed: SignedModel;

beforeAll(async () => {
  const model = await fitSynthesizer(pbc.schema, centralMeasure(pbc.schema, pbc.dataset, seededRandomSource(new Uint8Array(32).fill(3))), { rho: rhoFromEpsilonDelta(4, 1e-6), iterations: 100 });
  signed = signModel(model, fitter);
});

/** A deep copy through JSON, as a file read back. */
const copy = (): SignedModel => JSON.parse(JSON.stringify(signed)) as SignedModel;

describe('model artifact', () => {
  it('a signed model round-trips through JSON and verifies, also against its trusted key', () => {
    const m = verifyModel(copy(), { trustedKeys: [toHex(fitter.identity.publicKey)] });
    expect(m.budget.rho).toBe(signed.budget.rho);
    expect(m.budget.queries).toHaveLength(4);
    checkModelSchema(m, pbc.schema);
  });

  const tampers: [string, (m: SignedModel) => void, RegExp][] = [
    ['a conditional probability', (m) => {
      const row = m.cpt[m.order[1]!]![0]!;
      row[0] = row[0]! + 0.01;
      row[1] = row[1]! - 0.01;
    }, /digest mismatch/],
    ['the recorded budget', (m) => {
      m.budget.rho /= 2;
    }, /digest mismatch/],
    ['a query id of the budget', (m) => {
      m.budget.queries[0]!.queryId = 'central-9-one-way';
    }, /digest mismatch/],
    ['the digest, recomputed to match an edit', (m) => {
      m.budget.epsilon = 0.1;
      m.integrity.digest = '00'.repeat(32);
    }, /digest mismatch/],
    ['the signature', (m) => {
      const s = m.integrity.signature;
      m.integrity.signature = (s[0] === '0' ? '1' : '0') + s.slice(1);
    }, /signature does not verify/],
    ['the signer key', (m) => {
      m.integrity.signer.publicKey = toHex(generateIdentity().publicKey);
    }, /signature does not verify/],
    ['the format version', (m) => {
      (m as { version: number }).version = 1;
    }, /version 1 is not supported/],
  ];
  for (const [what, edit, reason] of tampers) {
    it(`is refused when ${what} is changed after signing`, () => {
      const m = copy();
      edit(m);
      expect(() => verifyModel(m)).toThrow(SynthModelError);
      expect(() => verifyModel(m)).toThrow(reason);
    });
  }

  it('an edited model re-signed by another key verifies on its own but not against the trusted key', () => {
    const m = copy();
    m.budget.rho = 0;
    const forged = signModel(m, { id: 'mallory', identity: generateIdentity() });
    expect(() => verifyModel(forged)).not.toThrow();
    expect(() => verifyModel(forged, { trustedKeys: [toHex(fitter.identity.publicKey)] })).toThrow(/not a trusted key/);
  });

  it('a file without an integrity block, or not a model, is refused', () => {
    const { integrity: _i, ...bare } = copy();
    expect(() => verifyModel(bare)).toThrow(/no integrity block/);
    expect(() => verifyModel({ hello: 1 })).toThrow(/not a blindsum synthetic-data model/);
  });

  it('a model fitted for another schema is refused for sampling', () => {
    expect(() => checkModelSchema(verifyModel(copy()), flchain.schema)).toThrow(/fitted for schema "pbc"/);
  });
});
