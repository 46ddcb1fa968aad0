/**
 * The trained model as a signed, versioned artifact (docs/training.md § The model file): the
 * parameters, what they mean (schema digest, features, target, model shape), how they were made
 * (the training plan, the job's rounds and query ids, the backend), what they cost (exact, or the
 * job's (ε, δ), ρ, noise multiplier and bits per coordinate with the roster figures they were
 * computed for) and the metrics measured on it, signed like the synthesizer's model
 * (stats/artifact.ts, domain "train/model"). Loading checks the signature, the schema and every
 * shape, so scoring a loaded model cannot fail on a malformed file.
 */
import type { IdentityKeyPair } from '../../crypto/identity.ts';
import { signArtifact, verifyIntegrity, type Integrity } from '../artifact.ts';
import type { Dataset } from '../dataset.ts';
import type { TrainSpec } from '../query-types.ts';
import { schemaDigest, type Schema } from '../schema.ts';
import { featureEncoding, predictorEncoder, rowEncoder, type CategoricalCoding, type FeatureEncoding } from './features.ts';
import { network, predict, type ModelSpec, type Network } from './model.ts';

export const TRAINED_MODEL_FORMAT = 'blindsum-trained-model';
export const TRAINED_MODEL_VERSION = 1;
export const TRAINED_MODEL_DOMAIN = 'train/model';

export type TrainingPrivacyRecord =
  | { exact: true }
  | {
      exact: false; epsilon: number; delta: number; rho: number; noiseMultiplier: number; bitsPerCoordinate: number;
      /** The roster figures the job's ε was computed for (the aggregator's ListParties). */
      roster: { parties: number; threshold: number; collusion: number };
      accountant: string;
      /** ρ charged by the federated evaluations recorded in metrics (on top of the job's). */
      evaluationRho?: number;
    };

export interface MetricsRecord {
  /** Where the figures come from: the federation (a charged query) or a local file. */
  source: string;
  n: number;
  auc: number | null;
  accuracy: number | null;
  logLoss: number | null;
  /** Free-form details (e.g. the query id and its ρ; calibration bins). */
  details?: Record<string, unknown>;
}

export interface TrainedModel {
  format: typeof TRAINED_MODEL_FORMAT;
  version: number;
  createdAt: string;
  schema: { name: string; digest: string };
  features: { columns: string[]; target: string; positive: string[] | null; coding: CategoricalCoding };
  model: { type: 'logistic' | 'mlp'; hidden?: number[]; classes: number; parameterCount: number };
  parameters: number[];
  training: { plan: TrainSpec; rounds: number; job: string; queryIds: string[]; backend: string; lastContributors: string[]; roundLoss: (number | null)[] };
  privacy: TrainingPrivacyRecord;
  metrics: MetricsRecord[];
}

export type SignedTrainedModel = TrainedModel & { integrity: Integrity };

export class TrainedModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainedModelError';
  }
}

export function signTrainedModel(m: TrainedModel, signer: { id: string; identity: IdentityKeyPair }): SignedTrainedModel {
  return signArtifact(m, TRAINED_MODEL_DOMAIN, signer) as SignedTrainedModel;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Format, version, integrity (and the signer against `trustedKeys`), then the basic shapes. */
export function verifyTrainedModel(json: unknown, opts: { trustedKeys?: string[]; source?: string } = {}): TrainedModel {
  const src = opts.source ?? 'model';
  if (!isObject(json) || json['format'] !== TRAINED_MODEL_FORMAT) throw new TrainedModelError(`${src}: not a blindsum trained model (format "${TRAINED_MODEL_FORMAT}")`);
  if (json['version'] !== TRAINED_MODEL_VERSION) throw new TrainedModelError(`${src}: model version ${JSON.stringify(json['version']).slice(0, 20)} is not supported (this blindsum reads version ${TRAINED_MODEL_VERSION}); retrain the model`);
  verifyIntegrity(json, TRAINED_MODEL_DOMAIN, { ...(opts.trustedKeys ? { trustedKeys: opts.trustedKeys } : {}), source: src, writtenBy: 'blindsum train fit' }, (m) => new TrainedModelError(m));
  const m = json as unknown as TrainedModel;
  if (!isObject(m.features) || !Array.isArray(m.features.columns) || typeof m.features.target !== 'string') throw new TrainedModelError(`${src}: features must name the columns and the target`);
  if (!isObject(m.model) || (m.model.type !== 'logistic' && m.model.type !== 'mlp')) throw new TrainedModelError(`${src}: model.type must be logistic or mlp`);
  if (!Array.isArray(m.parameters) || !m.parameters.every((x) => typeof x === 'number' && Number.isFinite(x))) throw new TrainedModelError(`${src}: parameters must be finite numbers`);
  return m;
}

/** The model's network and feature encoding under `schema`, refused for another schema or a parameter count that does not fit. */
export function trainedNetwork(m: TrainedModel, schema: Schema): { net: Network; enc: FeatureEncoding; params: Float64Array } {
  const digest = schemaDigest(schema);
  if (m.schema.digest !== digest) {
    throw new TrainedModelError(`the model was trained for schema "${m.schema.name}" (${m.schema.digest.slice(0, 16)}…), not this schema "${schema.name}" (${digest.slice(0, 16)}…); use the federation's schema`);
  }
  const enc = featureEncoding({ columns: m.features.columns, target: m.features.target, ...(m.features.positive ? { positive: m.features.positive } : {}), coding: m.features.coding }, schema);
  const spec: ModelSpec = m.model.type === 'mlp' ? { type: 'mlp', hidden: m.model.hidden ?? [], classes: enc.classes } : { type: 'logistic', classes: enc.classes };
  const net = network(spec, enc.d);
  if (net.parameterCount !== m.parameters.length || net.parameterCount !== m.model.parameterCount) {
    throw new TrainedModelError(`the model has ${m.parameters.length} parameters; its network on this schema has ${net.parameterCount}`);
  }
  return { net, enc, params: Float64Array.from(m.parameters) };
}

export interface Scored {
  /** Dataset rows scored (complete predictors). */
  rows: Int32Array;
  /** Binary: P(y = 1) per scored row; K classes: rows × K probabilities. */
  probabilities: Float64Array;
  /** Per scored row: the label (0/1 or class index), NaN where the target is missing. */
  labels: Float64Array;
  classes: number;
}

/** Scores every row of `dataset` with complete predictors (the target may be missing). */
export function scoreDataset(m: TrainedModel, schema: Schema, dataset: Dataset): Scored {
  const { net, enc, params } = trainedNetwork(m, schema);
  const predictors = predictorEncoder(enc, dataset);
  const labelOf = dataset.columns.has(enc.target) ? rowEncoder(enc, dataset) : undefined;
  const x = new Float64Array(enc.d);
  const rows: number[] = [];
  const X: number[] = [];
  const labels: number[] = [];
  for (let r = 0; r < dataset.rowCount; r++) {
    if (!predictors(r, x)) continue;
    rows.push(r);
    for (const v of x) X.push(v);
    labels.push(labelOf ? labelOf(r, x) : NaN);
  }
  return { rows: Int32Array.from(rows), probabilities: predict(net, params, Float64Array.from(X)), labels: Float64Array.from(labels), classes: enc.classes };
}
