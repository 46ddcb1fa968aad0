/**
 * The analyst's side of the CKKS backend: the analyst's own CKKS key pair (secret file 0600), and
 * the last step of a query — decrypting the release (the aggregate re-encrypted to the analyst's
 * key by PCKS), rounding it to the integer grid, and running the query kind's post-processing,
 * so the result exists in the clear only here. Loaded (with node-seal) only for backend "ckks".
 */
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { PackedDecryptor } from '../crypto/ckks/encoder.ts';
import { saveBytes } from '../crypto/ckks/objects.ts';
import { CkksContext } from '../crypto/ckks/params.ts';
import { SealScope } from '../crypto/ckks/seal.ts';
import { unpackCiphertext } from '../crypto/ckks/wire.ts';
import type { GetResultResponse } from '../gen/blindsum/v1/blindsum.ts';
import { CKKS_PARAMS, ckksContext, ckksLayout, ckksParamsByName, fromCkksValues, ownBytes, sha256Hex } from '../services/common/ckks.ts';
import { ConfigError } from '../services/common/roster.ts';
import {
  checkReleasedSums, finalizeReleased, flagSmallCohort, MAX_RAW_DECRYPTION_ERROR, noiseStd, noiseUncertainty, noiseVerdict, type NoiseVerdict, parseSchema, planNoise, planQuery, ReleaseCheckError, type NoisePlan, type Query, type QueryResult,
} from '../stats/index.ts';


export interface AnalystCkksKey {
  params: string;
  publicKey: Uint8Array;
  /** SEAL SecretKey bytes (secret: keep the file 0600). */
  secretKey: Uint8Array;
}

const TYPE = 'blindsum-ckks-analyst-key';
const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

async function contextFor(params: string): Promise<{ ctx: CkksContext; owned: boolean }> {
  if (params === CKKS_PARAMS.name) return { ctx: await ckksContext(), owned: false };
  return { ctx: await CkksContext.create(ckksParamsByName(params)), owned: true };
}

/** A fresh CKKS key pair for the analyst (plain SEAL key generation). */
export async function generateAnalystKey(params: string = CKKS_PARAMS.name): Promise<AnalystCkksKey> {
  const { ctx, owned } = await contextFor(params);
  try {
    using scope = new SealScope();
    const kg = scope.track(new ctx.seal.KeyGenerator(ctx.context));
    const publicKey = saveBytes(ctx, scope.track(kg.createPublicKey()), 'publicKey');
    const secretKey = saveBytes(ctx, scope.track(kg.secretKey()), 'secretKey');
    return { params: ctx.params.name, publicKey, secretKey };
  } finally {
    if (owned) ctx[Symbol.dispose]();
  }
}

/** Writes the key pair to PATH (mode 0600, never overwritten) and the public key to PATH.pub. */
export function writeAnalystKeyFile(path: string, key: AnalystCkksKey): void {
  const write = (file: string, body: string, mode: number): void => {
    let fd: number;
    try {
      fd = openSync(file, 'wx', mode);
    } catch (e) {
      throw new ConfigError(`cannot create ${file}: ${(e as NodeJS.ErrnoException).code === 'EEXIST' ? 'it already exists (refusing to overwrite a key)' : (e as Error).message}`);
    }
    try {
      writeSync(fd, body);
    } finally {
      closeSync(fd);
    }
  };
  write(path, JSON.stringify({ type: TYPE, params: key.params, publicKey: b64(key.publicKey), secretKey: b64(key.secretKey) }) + '\n', 0o600);
  write(`${path}.pub`, JSON.stringify({ type: `${TYPE}.pub`, params: key.params, publicKey: b64(key.publicKey) }) + '\n', 0o644);
}

export function loadAnalystKeyFile(path: string): AnalystCkksKey {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (e) {
    throw new ConfigError(`cannot read CKKS key file ${path}: ${(e as Error).message}; create one with: blindsum analyst-keygen --out ${path}`);
  }
  if ((mode & 0o077) !== 0) throw new ConfigError(`CKKS key file ${path} is readable by group or others (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${path}`);
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    throw new ConfigError(`CKKS key file ${path} is not valid JSON`);
  }
  if (o['type'] !== TYPE || typeof o['params'] !== 'string' || typeof o['publicKey'] !== 'string' || typeof o['secretKey'] !== 'string') {
    throw new ConfigError(`${path} is not a blindsum CKKS analyst key (create one with: blindsum analyst-keygen)`);
  }
  return { params: o['params'], publicKey: new Uint8Array(Buffer.from(o['publicKey'], 'base64')), secretKey: new Uint8Array(Buffer.from(o['secretKey'], 'base64')) };
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
  const { ctx, owned } = await contextFor(rel.params);
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
