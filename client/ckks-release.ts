/**
 * The analyst's side of a CKKS release, with no Node import, so that the CLI (`blindsum query
 * --backend ckks`, client/ckks-analyst.ts) and the web console's analyst page run this same code:
 * the CKKS key file's parser, and the last step of a query — decrypting the release (the aggregate
 * re-encrypted to the analyst's key by PCKS), rounding it to the integer grid, and running the
 * query kind's post-processing, so the result exists in the clear only at the analyst. node-seal is
 * loaded at the first decryption.
 */
import { fromBase64 } from '../crypto/bytes.ts';
import { PackedDecryptor } from '../crypto/ckks/encoder.ts';
import { CkksContext } from '../crypto/ckks/params.ts';
import { unpackCiphertext } from '../crypto/ckks/wire.ts';
import type { GetResultResponse } from '../gen/blindsum/v1/blindsum.ts';
import { CKKS_PARAMS, ckksContext, ckksLayout, ckksParamsByName, fromCkksValues, ownBytes, sha256Hex } from '../services/common/ckks.ts';
import { ConfigError } from '../services/common/ids.ts';
import {
  checkReleasedSums, finalizeReleased, flagSmallCohort, MAX_RAW_DECRYPTION_ERROR, noiseStd, noiseUncertainty, noiseVerdict, type NoiseVerdict, parseSchema, planNoise, planQuery, ReleaseCheckError, type NoisePlan, type Query, type QueryResult,
} from '../stats/index.ts';

export interface AnalystCkksKey {
  params: string;
  publicKey: Uint8Array;
  /** SEAL SecretKey bytes (secret: keep the file 0600). */
  secretKey: Uint8Array;
}

/** The `type` of a CKKS analyst key file (its public half: `${CKKS_KEY_TYPE}.pub`). */
export const CKKS_KEY_TYPE = 'blindsum-ckks-analyst-key';

/** The largest CKKS key file accepted (a key pair of the largest parameter set is well under this). */
export const MAX_CKKS_KEY_FILE_BYTES = 8 * 1024 * 1024;

/** The CKKS context of a parameter set: the process's shared one for CKKS_PARAMS, else a new one the caller frees. */
export async function ckksContextFor(params: string): Promise<{ ctx: CkksContext; owned: boolean }> {
  if (params === CKKS_PARAMS.name) return { ctx: await ckksContext(), owned: false };
  return { ctx: await CkksContext.create(ckksParamsByName(params)), owned: true };
}

/**
 * Parses the text of a CKKS analyst key file (`blindsum analyst ckks-keygen`); `where` names it
 * in errors (the file's name). Never quotes the file's content.
 */
export function parseAnalystCkksKey(text: string, where: string): AnalystCkksKey {
  if (text.length > MAX_CKKS_KEY_FILE_BYTES) throw new ConfigError(`${where} is not a blindsum CKKS analyst key (larger than ${MAX_CKKS_KEY_FILE_BYTES} bytes)`);
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new ConfigError(`CKKS key file ${where} is not valid JSON`);
  }
  if (o === null || typeof o !== 'object' || o['type'] !== CKKS_KEY_TYPE || typeof o['params'] !== 'string' || typeof o['publicKey'] !== 'string' || typeof o['secretKey'] !== 'string') {
    const pub = o !== null && typeof o === 'object' && o['type'] === `${CKKS_KEY_TYPE}.pub` ? ' (this is the public half, .pub: give the key file itself)' : '';
    throw new ConfigError(`${where} is not a blindsum CKKS analyst key${pub} (create one with: blindsum analyst ckks-keygen)`);
  }
  try {
    ckksParamsByName(o['params']);
    return { params: o['params'], publicKey: fromBase64(o['publicKey'], 'publicKey'), secretKey: fromBase64(o['secretKey'], 'secretKey') };
  } catch (e) {
    throw new ConfigError(`${where} is not a blindsum CKKS analyst key: ${(e as Error).message}`);
  }
}

export interface OpenedRelease {
  sums: bigint[];
  result: QueryResult | undefined;
  /** Why post-processing failed (DP noise can make e.g. X'X singular); the noisy sums are still released. */
  postError: string;
  uncertainty: Record<string, number | null>;
  /** DP releases of the judged kinds: whether the noise leaves the result useful (stats/noise-verdict.ts). */
  noise?: NoiseVerdict;
  /** Largest |decrypted value − its rounding| over every CKKS value, in grid units (refused above MAX_RAW_DECRYPTION_ERROR). */
  maxRawError: number;
  level: number;
  limbs: number;
  ciphertexts: number;
  /** Bytes of the encrypted release (compact wire form). */
  bytes: number;
}

/**
 * Decrypts, rounds and post-processes a CKKS release with the analyst's secret key. Refuses
 * (ReleaseCheckError) a decryption whose raw error before rounding is far above the flooding noise
 * (a malformed decryption share) and any sum outside the range the plan allows
 * (stats/release-check.ts: an out-of-range input or a shifted share).
 */
export async function openRelease(query: Query, r: GetResultResponse, key: AnalystCkksKey): Promise<OpenedRelease> {
  const rel = r.ckks;
  if (!rel) throw new Error(`query ${r.queryId} has no CKKS release`);
  if (rel.params !== key.params) throw new ConfigError(`the release uses parameter set ${rel.params}, the analyst key is for ${key.params}`);
  if (rel.analystKeySha256 !== sha256Hex(key.publicKey)) throw new ConfigError('the result was encrypted to another analyst key than the one given');
  const schema = parseSchema(JSON.parse(rel.schemaJson) as unknown);
  const plan = planQuery(query, schema, { parties: rel.plannedParties, ringBits: rel.ringBits as 32 | 64, ...(rel.dpGridBits ? { dpGridBits: rel.dpGridBits } : {}) });
  if (plan.digest !== r.planDigest) throw new Error('the fixed-point plan recomputed from the query and the schema differs from the aggregator\'s (plan digest mismatch)');
  const noise: NoisePlan | undefined = r.rhoCharged > 0 ? planNoise(query, schema, plan, { rho: r.rhoCharged, parties: rel.plannedParties, threshold: rel.threshold, collusion: rel.collusion }) : undefined;
  const { ctx, owned } = await ckksContextFor(rel.params);
  try {
    const layout = ckksLayout(ctx, plan, schema, noise);
    if (layout.limbs !== rel.limbs || layout.level !== rel.level || layout.ciphertexts !== rel.ciphertexts.length) {
      throw new Error('the release layout (limbs, level, ciphertexts) differs from the one recomputed from the plan');
    }
    const cts = rel.ciphertexts.map((b, i) => unpackCiphertext(ctx, ownBytes(b), `ciphertexts[${i}]`));
    let raw: Float64Array;
    let rounded: Float64Array;
    {
      using dec = new PackedDecryptor(ctx, key.secretKey);
      raw = dec.decrypt(cts, layout.length, false);
      rounded = dec.decrypt(cts, layout.length, true);
    }
    let maxRawError = 0;
    let worst = 0;
    for (let i = 0; i < raw.length; i++) {
      const err = Math.abs(raw[i]! - rounded[i]!);
      if (!(err <= maxRawError)) {
        maxRawError = err;
        worst = i;
      }
    }
    if (!(maxRawError <= MAX_RAW_DECRYPTION_ERROR)) {
      throw new ReleaseCheckError(
        `release refused: a decryption share is malformed: value ${worst} decrypts ${maxRawError.toFixed(3)} grid units away from an integer; honest decryption noise stays below ${MAX_RAW_DECRYPTION_ERROR} (decryptors ${rel.decryptors.join(', ')})`,
        [worst % layout.entries],
      );
    }
    let sums: bigint[];
    try {
      sums = fromCkksValues(layout, rounded);
    } catch (e) {
      throw new ReleaseCheckError(`release refused: ${(e as Error).message}`, []);
    }
    checkReleasedSums(plan, schema, sums, r.contributors.length, noise);
    // Under DP the post-processing learns the released noise per entry (kaplan_meier's intervals hold it).
    const std = noise ? noiseStd(noise, plan, r.contributors.length) : undefined;
    const { result, postError } = finalizeReleased(query, schema, plan, sums, noise !== undefined, (e) => (e as Error).message, std);
    if (result && noise) flagSmallCohort(result, rel.minCohort);
    const uncertainty = noise && result ? noiseUncertainty(query, schema, plan, noise, sums, r.contributors.length) : {};
    const verdict = noiseVerdict(query, schema, plan, noise, sums, r.contributors.length, result, uncertainty);
    return { sums, result, postError, uncertainty, ...(verdict ? { noise: verdict } : {}), maxRawError, level: layout.level, limbs: layout.limbs, ciphertexts: cts.length, bytes: rel.ciphertexts.reduce((a, b) => a + b.length, 0) };
  } finally {
    if (owned) ctx[Symbol.dispose]();
  }
}
