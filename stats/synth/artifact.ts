/**
 * The model artifact: the fitted model as JSON, with an integrity block — the SHA-256 digest of
 * the canonical JSON of everything else (stats/canonical.ts) and an Ed25519 signature over it
 * (crypto/identity.ts, domain "synth/model") by the fitter's identity key. Loading recomputes
 * both and refuses a file whose content changed after signing (a probability, the recorded
 * budget, …). The embedded public key only proves integrity; pass `trustedKeys` to also require
 * a known fitter (otherwise anyone could re-sign an edited model with a key of their own).
 */
import type { IdentityKeyPair } from '../../crypto/identity.ts';
import { signArtifact, verifyIntegrity, type Integrity } from '../artifact.ts';
import { schemaDigest } from '../schema.ts';
import type { Schema } from '../schema.ts';
import { MODEL_FORMAT, MODEL_VERSION, type SynthModel } from './model.ts';

export const MODEL_SIGNING_DOMAIN = 'synth/model';
export type { Integrity } from '../artifact.ts';

export type SignedModel = SynthModel & { integrity: Integrity };

export class SynthModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SynthModelError';
  }
}

/** Adds the integrity block (digest and signature by `signer`). */
export function signModel(model: SynthModel, signer: { id: string; identity: IdentityKeyPair }): SignedModel {
  return signArtifact(model, MODEL_SIGNING_DOMAIN, signer) as SignedModel;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Probability vector check: finite, ≥ 0, sums to 1 within 1e-6. */
function probabilities(p: unknown, where: string): void {
  if (!Array.isArray(p) || p.length === 0 || !p.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0)) throw new SynthModelError(`${where}: expected non-negative probabilities`);
  const s = (p as number[]).reduce((a, b) => a + b, 0);
  if (Math.abs(s - 1) > 1e-6) throw new SynthModelError(`${where}: probabilities sum to ${s}, not 1`);
}

/** Shapes and probabilities, so that sampling cannot fail on a signed but malformed model. */
function checkShape(m: SynthModel): void {
  const d = m.columns.length;
  if (!Array.isArray(m.order) || !Array.isArray(m.parents) || !Array.isArray(m.cpt) || m.order.length !== d || m.parents.length !== d || m.cpt.length !== d) {
    throw new SynthModelError(`model: order, parents and cpt must each have one entry per column (${d})`);
  }
  const seen = new Set<number>();
  for (const i of m.order) {
    if (!Number.isInteger(i) || i < 0 || i >= d || seen.has(i)) throw new SynthModelError('model: order must list every column once');
    const ps = m.parents[i];
    if (!Array.isArray(ps) || ps.length > 2 || !ps.every((p) => Number.isInteger(p) && seen.has(p)) || new Set(ps).size !== ps.length) {
      throw new SynthModelError(`model: column ${i}'s parents (at most two, distinct) must come before it in the order`);
    }
    seen.add(i);
  }
  m.columns.forEach((c, i) => {
    if (!isObject(c) || !Array.isArray(c.levels) || !Array.isArray(c.groups)) throw new SynthModelError(`model column ${i}: expected { levels, groups }`);
    if (c.step !== undefined && !(typeof c.step === 'number' && c.step > 0 && Number.isFinite(c.step))) throw new SynthModelError(`model column ${c.name}: step must be a positive number`);
    if (c.type !== 'categorical' && (!Array.isArray(c.edges) || c.edges.length !== c.levels.length || typeof c.min !== 'number' || typeof c.max !== 'number')) {
      throw new SynthModelError(`model column ${c.name}: a numeric column needs edges (one more than its bins) and min/max`);
    }
    c.groups.forEach((g, gi) => {
      if (!Array.isArray(g.fine) || g.fine.length !== g.weights?.length || !g.fine.every((f) => Number.isInteger(f) && f >= 0 && f < c.levels.length)) {
        throw new SynthModelError(`model column ${c.name} group ${gi}: fine values and weights do not match its levels`);
      }
      probabilities(g.weights, `model column ${c.name} group ${gi}`);
    });
    const rows = m.parents[i]!.reduce((acc, p) => acc * m.columns[p]!.groups.length, 1);
    const t = m.cpt[i]!;
    if (!Array.isArray(t) || t.length !== rows) throw new SynthModelError(`model column ${c.name}: cpt needs ${rows} row(s)`);
    t.forEach((row, r) => {
      if (!Array.isArray(row) || row.length !== c.groups.length) throw new SynthModelError(`model column ${c.name}: cpt row ${r} needs ${c.groups.length} probabilities`);
      probabilities(row, `model column ${c.name} cpt row ${r}`);
    });
  });
}

/**
 * Verifies and returns a model read from JSON: format and version, digest, signature (and the
 * signer against `trustedKeys`, hex public keys, when given), then the shapes.
 */
export function verifyModel(json: unknown, opts: { trustedKeys?: string[]; source?: string } = {}): SynthModel {
  const src = opts.source ?? 'model';
  if (!isObject(json) || json['format'] !== MODEL_FORMAT) throw new SynthModelError(`${src}: not a blindsum synthetic-data model (format "${MODEL_FORMAT}")`);
  if (json['version'] !== MODEL_VERSION) throw new SynthModelError(`${src}: model version ${JSON.stringify(json['version'])} is not supported (this blindsum reads version ${MODEL_VERSION}); refit the model`);
  verifyIntegrity(json, MODEL_SIGNING_DOMAIN, { ...(opts.trustedKeys ? { trustedKeys: opts.trustedKeys } : {}), source: src, writtenBy: 'blindsum synth fit' }, (m) => new SynthModelError(m));
  const model = json as unknown as SignedModel;
  checkShape(model);
  return model;
}

/** Refuses a model fitted for another schema. */
export function checkModelSchema(model: SynthModel, schema: Schema): void {
  const digest = schemaDigest(schema);
  if (model.schema.digest !== digest) {
    throw new SynthModelError(`the model was fitted for schema "${model.schema.name}" (${model.schema.digest.slice(0, 16)}…), not this schema "${schema.name}" (${digest.slice(0, 16)}…); use the federation's schema`);
  }
}
