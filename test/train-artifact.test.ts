/**
 * The trained-model file (stats/train/artifact.ts): signed and verified like the synthesizer's
 * model; any edit after signing (a parameter, the recorded ε, the signer) is refused, so is a model
 * for another schema or whose parameters do not fit its network; scoring a loaded model gives the
 * network's own predictions, rows with a missing predictor left out and a missing target allowed.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../crypto/bytes.ts';
import { generateIdentity } from '../crypto/identity.ts';
import { schemaDigest } from '../stats/index.ts';
import { scoreDataset, signTrainedModel, TrainedModelError, trainedNetwork, verifyTrainedModel, type SignedTrainedModel, type TrainedModel } from '../stats/train/artifact.ts';
import { encodeFeatures, initParams, network, predict } from '../stats/train/index.ts';
import { loadExample } from './stats-helpers.ts';

const pbc = loadExample('pbc');
const flchain = loadExample('flchain');
const COLUMNS = ['age', 'bili', 'edema'];
const d = encodeFeatures({ columns: COLUMNS, target: 'status', positive: ['2'] }, pbc.schema, pbc.dataset).d;
const params = [...initParams({ type: 'mlp', hidden: [4] }, d, 'artifact')];
const signer = { id: 'fitter', identity: generateIdentity() };

const model: TrainedModel = {
  format: 'blindsum-trained-model', version: 1, createdAt: '2026-12-01T00:00:00.000Z',
  schema: { name: pbc.schema.name, digest: schemaDigest(pbc.schema) },
  features: { columns: COLUMNS, target: 'status', positive: ['2'], coding: 'treatment' },
  model: { type: 'mlp', hidden: [4], classes: 2, parameterCount: params.length }, parameters: params,
  training: { plan: { model: 'mlp', hidden: [4], clip: 1, learningRate: 0.05, optimizer: 'adam', expectedBatch: 100, seed: 'artifact' }, rounds: 3, job: 'j', queryIds: ['a', 'b', 'c'], backend: 'secagg', lastContributors: ['h1', 'h2'], roundLoss: [null, null, null] },
  privacy: { exact: false, epsilon: 4, delta: 1e-6, rho: 0.3, noiseMultiplier: 2, bitsPerCoordinate: 20, roster: { parties: 3, threshold: 2, collusion: 0 }, accountant: 'test' },
  metrics: [],
};
const signed = signTrainedModel(model, signer);
const copy = (): SignedTrainedModel => JSON.parse(JSON.stringify(signed)) as SignedTrainedModel;

describe('the trained-model file', () => {
  it('verifies as written, and with its signer as the trusted key', () => {
    expect(verifyTrainedModel(copy()).parameters).toEqual(params);
    expect(() => verifyTrainedModel(copy(), { trustedKeys: [toHex(signer.identity.publicKey)] })).not.toThrow();
  });
  const tampers: [string, (m: SignedTrainedModel) => void, RegExp][] = [
    ['a parameter', (m) => void (m.parameters[0]! += 1e-9), /digest mismatch/],
    ['the recorded ε', (m) => void ((m.privacy as { epsilon: number }).epsilon = 0.1), /digest mismatch/],
    ['the signature', (m) => void (m.integrity.signature = (m.integrity.signature[0] === '0' ? '1' : '0') + m.integrity.signature.slice(1)), /signature does not verify/],
    ['the signer key', (m) => void (m.integrity.signer.publicKey = toHex(generateIdentity().publicKey)), /signature does not verify/],
    ['the version', (m) => void ((m as { version: number }).version = 2), /version 2 is not supported/],
  ];
  it.each(tampers)('is refused when %s is changed after signing', (_w, edit, re) => {
    const m = copy();
    edit(m);
    expect(() => verifyTrainedModel(m)).toThrow(TrainedModelError);
    expect(() => verifyTrainedModel(m)).toThrow(re);
  });
  it('re-signed by another key, it verifies but is refused where the fitter\'s key is required', () => {
    const forged = signTrainedModel({ ...model, parameters: params.map(() => 0) }, { id: 'mallory', identity: generateIdentity() });
    expect(() => verifyTrainedModel(forged)).not.toThrow();
    expect(() => verifyTrainedModel(forged, { trustedKeys: [toHex(signer.identity.publicKey)] })).toThrow(/not a trusted key/);
  });
  it('is refused for another schema, and when its parameters do not fit its network', () => {
    expect(() => trainedNetwork(verifyTrainedModel(copy()), flchain.schema)).toThrow(/trained for schema "pbc"/);
    const short = signTrainedModel({ ...model, parameters: params.slice(1) }, signer);
    expect(() => trainedNetwork(verifyTrainedModel(short), pbc.schema)).toThrow(/has \d+ parameters; its network on this schema has \d+/);
    expect(() => verifyTrainedModel({ format: 'x' })).toThrow(/not a blindsum trained model/);
  });
  it('scores every row with complete predictors with the network\'s own predictions (the target may be missing)', () => {
    const s = scoreDataset(verifyTrainedModel(copy()), pbc.schema, pbc.dataset);
    const enc = encodeFeatures({ columns: COLUMNS, target: 'status', positive: ['2'] }, pbc.schema, pbc.dataset);
    const expected = predict(network({ type: 'mlp', hidden: [4] }, d), Float64Array.from(params), enc.X);
    expect(s.rows.length).toBe(enc.rows); // pbc has no missing target among these complete rows
    expect([...s.probabilities]).toEqual([...expected]);
    expect([...s.labels]).toEqual([...enc.y]);
  });
});
