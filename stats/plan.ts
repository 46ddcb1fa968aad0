/**
 * What the services call: planQuery (layout, fixed-point scales, overflow check — before any
 * data is read), localStatistics (a party's exact integer sums), finalize (post-processing of
 * the aggregated sums). Every backend uses these, so there is one definition per kind.
 *
 * Encoding: entry i of a row is quantized to round(term · 2^scaleBits[i]) (half away from
 * zero) row by row, so the federated sum of the parties' vectors equals, exactly, the central
 * sum of the same quantized terms.
 */
import { sha256Hasher } from '../crypto/sha256.ts';
import { toHex } from '../crypto/bytes.ts';
import { canonicalJson } from './canonical.ts';
import type { Dataset } from './dataset.ts';
import { quantize } from './fixed.ts';
import { matchRows } from './filter.ts';
import { KINDS } from './kinds/index.ts';
import type { Entry, QueryResult, RowCells } from './kinds/types.ts';
import { QueryError, validateQuery } from './query.ts';
import type { Query } from './query.ts';
import { schemaDigest } from './schema.ts';
import type { Schema } from './schema.ts';

/**
 * Entry names travel with a result (GetResult, the transcript's release record) only for vectors
 * of at most this many entries; a longer vector (a 10^6-cell marginal) is named by its query's
 * layout (planQuery(...).entries[i].name), which every client can compute.
 */
export const NAMED_ENTRIES_MAX = 4096;

/** The names to send with a result of `plan`: all of them, or none beyond NAMED_ENTRIES_MAX entries. */
export function resultEntryNames(plan: Plan): string[] {
  return plan.entries.length <= NAMED_ENTRIES_MAX ? plan.entries.map((e) => e.name) : [];
}

/** Largest fixed-point scale used for real-valued entries. */
export const MAX_SCALE_BITS = 24;

export interface PlanOptions {
  parties: number;
  ringBits: 32 | 64;
  /**
   * Differentially private plans: choose each real entry's scale so that one row moves the
   * encoded entry by about 2^dpGridBits grid units (between 2^(dpGridBits−1) and 2^dpGridBits),
   * whatever its bound (integer entries with bounds up to 2^dpGridBits, e.g. counts, stay on the
   * integer grid). The noise added per entry is then proportional to its own sensitivity, and the
   * integer noise stays small enough to sample exactly. Scales may be negative (coarse grids for
   * wide bounds): the DP noise is far larger than that rounding.
   */
  dpGridBits?: number;
}

export interface Plan {
  entries: Entry[];
  scaleBits: number[];
  ringBits: 32 | 64;
  parties: number;
  /** Set for differentially private plans (see PlanOptions.dpGridBits). */
  dpGridBits?: number;
  /** Hex SHA-256 of the canonical plan header (query, schema digest, parties, ring, DP grid, entry count, layout version). */
  digest: string;
}

/** The query with only its defined fields, in a fixed shape (for digests). */
function normalQuery(q: Query): Query {
  const out: Query = { kind: q.kind, columns: [...q.columns], filter: q.filter.map((p) => ({ column: p.column, op: p.op, values: [...p.values] })) };
  if (q.bins !== undefined) out.bins = [...q.bins];
  if (q.target !== undefined) out.target = q.target;
  if (q.edges !== undefined) out.edges = q.edges.map((e) => [...e]);
  if (q.tables !== undefined) out.tables = q.tables.map((t) => [...t]);
  if (q.positive !== undefined) out.positive = [...q.positive];
  for (const f of ['offset', 'time', 'event', 'strata', 'job'] as const) if (q[f] !== undefined) out[f] = q[f];
  if (q.times !== undefined) out.times = [...q.times];
  if (q.state !== undefined) out.state = [...q.state];
  if (q.round !== undefined) out.round = q.round;
  if (q.train !== undefined) out.train = JSON.parse(JSON.stringify(q.train)) as typeof q.train;
  return out;
}

/** ceil(bound · 2^scale) as a bigint: the largest |quantized row term| of an entry. */
function maxTerm(bound: number, scale: number): bigint {
  return BigInt(Math.ceil(bound * 2 ** scale));
}

/**
 * Chooses per-entry scales and checks that the sum over parties × maxRowsPerParty rows cannot
 * overflow a signed ring of ringBits bits: rows · ceil(bound · 2^scale) < 2^(ringBits − 1).
 * Integer entries use scale 0; real entries the largest scale ≤ 24 that passes.
 */
export function planQuery(q: Query, schema: Schema, opts: PlanOptions): Plan {
  validateQuery(q, schema);
  const { parties, ringBits } = opts;
  if (!Number.isSafeInteger(parties) || parties < 1) throw new RangeError(`parties: expected a positive integer, got ${parties}`);
  if (ringBits !== 32 && ringBits !== 64) throw new RangeError(`ringBits: expected 32 or 64, got ${String(ringBits)}`);
  const dp = opts.dpGridBits;
  // A kind with its own vector mechanism (train_round) has its own DP layout, already on the integer grid.
  const vector = dp !== undefined ? KINDS[q.kind].dp : undefined;
  const entries = vector ? vector.layout(q, schema) : KINDS[q.kind].layout(q, schema);
  const rows = BigInt(parties) * BigInt(schema.maxRowsPerParty);
  const limit = 1n << BigInt(ringBits - 1);
  if (dp !== undefined && (!Number.isInteger(dp) || dp < 1 || dp > 24)) throw new RangeError(`dpGridBits: expected an integer in [1, 24], got ${dp}`);
  // Entries with the same bound and integer flag get the same scale: a table of 10^6 counts
  // chooses it once (the cache holds the previous entry's answer).
  let lastBound = NaN;
  let lastInteger = false;
  let lastScale = 0;
  const scaleBits = entries.map((e) => {
    if (e.bound === lastBound && e.integer === lastInteger) return lastScale;
    lastScale = scaleOf(e);
    lastBound = e.bound;
    lastInteger = e.integer;
    return lastScale;
  });
  function scaleOf(e: Entry): number {
    if (!(e.bound >= 0) || !Number.isFinite(e.bound)) throw new QueryError(`entry ${e.name}: bound ${e.bound} is not a finite non-negative number`);
    if (vector) {
      if (rows * maxTerm(e.bound, 0) >= limit) throw new QueryError(`entry ${e.name} could overflow a ${ringBits}-bit ring: ${parties} parties × ${schema.maxRowsPerParty} rows × ${e.bound} ≥ 2^${ringBits - 1}; use ringBits 64`);
      return 0;
    }
    if (dp !== undefined) {
      // Integer entries with small bounds (counts) keep the integer grid; otherwise the largest
      // s with bound·2^s ≤ 2^dp (bound 0: the entry never moves; use the integer grid).
      const s = e.bound > 0 && !(e.integer && e.bound <= 2 ** dp) ? Math.floor(dp - Math.log2(e.bound)) : 0;
      const fixed = e.bound > 0 && e.bound * 2 ** s > 2 ** dp ? s - 1 : s;
      if (rows * maxTerm(e.bound, fixed) >= limit) {
        throw new QueryError(`entry ${e.name} could overflow a ${ringBits}-bit ring: ${parties} parties × ${schema.maxRowsPerParty} rows × 2^${dp} ≥ 2^${ringBits - 1}; use ringBits 64`);
      }
      return fixed;
    }
    if (e.integer) {
      if (rows * maxTerm(e.bound, 0) >= limit) {
        throw new QueryError(`entry ${e.name} could overflow a ${ringBits}-bit ring: ${parties} parties × ${schema.maxRowsPerParty} rows × bound ${e.bound} ≥ 2^${ringBits - 1}; use ringBits 64, fewer rows per party or tighter bounds`);
      }
      return 0;
    }
    for (let s = KINDS[q.kind].maxScaleBits ?? MAX_SCALE_BITS; s >= 0; s--) if (rows * maxTerm(e.bound, s) < limit) return s;
    throw new QueryError(`entry ${e.name} could overflow a ${ringBits}-bit ring even at scale 0: ${parties} parties × ${schema.maxRowsPerParty} rows × bound ${e.bound} ≥ 2^${ringBits - 1}; use ringBits 64, fewer rows per party or tighter bounds`);
  }
  const header = planHeader(q, schema, opts, entries.length);
  const digest = toHex(sha256Hasher().update(header).digest());
  Object.freeze(entries);
  Object.freeze(scaleBits);
  const plan: Plan = Object.freeze(dp !== undefined ? { entries, scaleBits, ringBits, parties, dpGridBits: dp, digest } : { entries, scaleBits, ringBits, parties, digest });
  PLANNED.set(plan, header);
  return plan;
}

/**
 * Version of the layouts and scale rules (stats/kinds, planQuery above): a change to either changes
 * every plan digest, so nodes running different layout code refuse each other's plans.
 */
export const LAYOUT_VERSION = 5;

/**
 * The canonical plan header: the query, the schema digest, the parties, the ring, the DP grid, the
 * number of entries and the layout version. Entries and scales are a deterministic function of it,
 * so its SHA-256 (the plan digest) identifies the plan in O(size of the query), never O(entries).
 */
function planHeader(q: Query, schema: Schema, opts: PlanOptions, entries: number): string {
  const body: Record<string, unknown> = { v: LAYOUT_VERSION, query: normalQuery(q), schema: schemaDigest(schema), parties: opts.parties, ringBits: opts.ringBits, entries };
  if (opts.dpGridBits !== undefined) body['dpGridBits'] = opts.dpGridBits;
  return canonicalJson(body);
}

/** Plans made by planQuery in this process (frozen), with their header: their entries and scales need no re-check. */
const PLANNED = new WeakMap<Plan, string>();

/**
 * Checks that `plan` is planQuery's plan of `q` on `schema`: O(size of the query) for a plan this
 * process made (its header is compared), a full re-plan for any other object.
 */
function checkPlan(q: Query, schema: Schema, plan: Plan): void {
  const opts: PlanOptions = plan.dpGridBits !== undefined ? { parties: plan.parties, ringBits: plan.ringBits, dpGridBits: plan.dpGridBits } : { parties: plan.parties, ringBits: plan.ringBits };
  // A frozen plan this process made for this very header: its digest is that header's hash.
  if (PLANNED.get(plan) === planHeader(q, schema, opts, plan.entries.length)) return;
  const again = planQuery(q, schema, opts);
  const same = again.entries.length === plan.entries.length && again.scaleBits.length === plan.scaleBits.length && again.scaleBits.every((b, i) => b === plan.scaleBits[i]);
  if (!same) throw new QueryError('plan mismatch: the plan\'s entries or scales are not what planQuery gives for the query');
  const digest = again.digest;
  if (digest !== plan.digest) {
    throw new QueryError(`plan digest mismatch: this node computes ${digest.slice(0, 16)}… for the query, the plan says ${plan.digest.slice(0, 16)}…; check that both sides use the same schema (digest ${schemaDigest(schema).slice(0, 16)}…) and query`);
  }
}

const TWO52 = 2 ** 52;

/** The plan is q's, and the dataset is loaded with the plan's schema within its row limit. */
function checkInputs(q: Query, schema: Schema, plan: Plan, dataset: Dataset): void {
  checkPlan(q, schema, plan);
  if (dataset.schema !== schema && schemaDigest(dataset.schema) !== schemaDigest(schema)) {
    throw new QueryError('dataset was loaded with a different schema than the query plan uses; reload it with the federation schema');
  }
  if (dataset.rowCount > schema.maxRowsPerParty) {
    throw new QueryError(`dataset has ${dataset.rowCount} rows, more than maxRowsPerParty = ${schema.maxRowsPerParty}; the overflow check would not hold`);
  }
}

/** Count kinds on the integer grid (every plan of them: bound 1, scale 0): sparse counts; else undefined. */
function countKindSums(q: Query, schema: Schema, plan: Plan, dataset: Dataset): { counts: Float64Array; rowsUsed: number } | undefined {
  const kind = KINDS[q.kind];
  if (!kind.rowCells || !plan.scaleBits.every((b) => b === 0)) return undefined;
  return countCells(kind.rowCells(q, schema, dataset), kind.rowEntries?.(q) ?? 1, matchRows(dataset, q.filter), dataset.rowCount, plan.entries.length);
}

/** A party's exact integer sums of its rows' quantized contributions. */
export function localStatistics(q: Query, schema: Schema, plan: Plan, dataset: Dataset): { sums: bigint[]; rowsUsed: number } {
  checkInputs(q, schema, plan, dataset);
  const m = plan.entries.length;
  const load = KINDS[q.kind].loadCounts;
  if (load) {
    // The load's own counts (population): integers on the integer grid, each at most maxRowsPerParty.
    const counts = load(q, schema, dataset);
    if (counts.length !== m || !plan.scaleBits.every((b) => b === 0)) throw new QueryError(`${q.kind}: the load's counts do not fit the plan`);
    return { sums: counts.map((c) => BigInt(c)), rowsUsed: dataset.rowCount };
  }
  const counted = countKindSums(q, schema, plan, dataset);
  if (counted) {
    const sums = new Array<bigint>(m);
    for (let i = 0; i < m; i++) sums[i] = BigInt(counted.counts[i]!);
    return { sums, rowsUsed: counted.rowsUsed };
  }
  // Largest |quantized term| the overflow check allowed for: a term beyond it means the dataset
  // holds a value outside the schema bounds (only possible if it was not built by buildDataset).
  const limits = plan.entries.map((e, i) => Number(maxTerm(e.bound, plan.scaleBits[i]!)));
  const big = new Array<bigint>(m).fill(0n);
  const small = new Float64Array(m); // exact integer partial sums while |partial| < 2^52
  const mask = matchRows(dataset, q.filter);
  let rowsUsed = 0;
  const add = (r: number, i: number, t: number): void => {
    const qv = quantize(t, plan.scaleBits[i]!);
    if (!(Math.abs(qv) <= limits[i]!)) {
      throw new QueryError(`row ${r}: contribution to ${plan.entries[i]!.name} exceeds its bound ${plan.entries[i]!.bound}; the dataset holds a value outside the schema bounds (load it with buildDataset)`);
    }
    if (Math.abs(qv) >= TWO52) {
      big[i]! += BigInt(qv);
      return;
    }
    const acc = small[i]! + qv;
    if (Math.abs(acc) >= TWO52) {
      big[i]! += BigInt(acc); // exact: both addends are below 2^52 in magnitude
      small[i] = 0;
    } else {
      small[i] = acc;
    }
  };
  const sparse = plan.dpGridBits !== undefined && KINDS[q.kind].dp ? undefined : KINDS[q.kind].rowSparse?.(q, schema, dataset);
  if (sparse) {
    const index = new Int32Array(sparse.max);
    const value = new Float64Array(sparse.max);
    for (let r = 0; r < dataset.rowCount; r++) {
      if (!mask[r]) continue;
      const k = sparse.terms(r, index, value);
      if (k < 0) continue;
      rowsUsed++;
      for (let j = 0; j < k; j++) if (value[j] !== 0) add(r, index[j]!, value[j]!);
    }
    return { sums: big.map((b, i) => b + BigInt(small[i]!)), rowsUsed };
  }
  const vector = plan.dpGridBits !== undefined ? KINDS[q.kind].dp : undefined;
  const terms = (vector ?? KINDS[q.kind]).rowTerms(q, schema, dataset);
  const out = new Float64Array(m);
  for (let r = 0; r < dataset.rowCount; r++) {
    if (!mask[r]) continue;
    out.fill(0);
    if (!terms(r, out)) continue;
    rowsUsed++;
    for (let i = 0; i < m; i++) {
      const t = out[i]!;
      if (t !== 0) add(r, i, t);
    }
  }
  const sums = big.map((b, i) => b + BigInt(small[i]!));
  return { sums, rowsUsed };
}

/**
 * Sums of a count kind (every term 0 or 1, entries on the integer grid): O(rows × cells per row),
 * whatever the number of entries. Counts stay below maxRowsPerParty, so doubles are exact.
 */
function countCells(cellsOf: RowCells, maxCells: number, mask: Uint8Array, rowCount: number, m: number): { counts: Float64Array; rowsUsed: number } {
  const counts = new Float64Array(m);
  const cells = new Int32Array(maxCells);
  let rowsUsed = 0;
  for (let r = 0; r < rowCount; r++) {
    if (!mask[r]) continue;
    const k = cellsOf(r, cells);
    if (k === 0) continue;
    rowsUsed++;
    for (let j = 0; j < k; j++) counts[cells[j]!]! += 1;
  }
  return { counts, rowsUsed };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * localStatistics as signed 64-bit integers (what a party encodes into its ring vector). For a
 * count kind no BigInt is made per entry: the counts (below 2^53) are written as two 32-bit words,
 * so a 10^6-cell table costs 16 MB, not an array of 10^6 BigInts.
 */
export function localStatisticsInt64(q: Query, schema: Schema, plan: Plan, dataset: Dataset): { sums: BigInt64Array; rowsUsed: number } {
  checkInputs(q, schema, plan, dataset);
  const counted = LITTLE_ENDIAN ? countKindSums(q, schema, plan, dataset) : undefined;
  if (counted) {
    const m = counted.counts.length;
    const sums = new BigInt64Array(m);
    const words = new Uint32Array(sums.buffer);
    for (let i = 0; i < m; i++) {
      const c = counted.counts[i]!; // a non-negative integer below 2^53
      words[2 * i] = c % 4294967296;
      words[2 * i + 1] = Math.floor(c / 4294967296);
    }
    return { sums, rowsUsed: counted.rowsUsed };
  }
  const { sums, rowsUsed } = localStatistics(q, schema, plan, dataset);
  return { sums: BigInt64Array.from(sums), rowsUsed };
}

/** Post-processes aggregated sums (signed integers on the plan's grid) into a result. */
export function finalize(q: Query, schema: Schema, plan: Plan, sums: bigint[], noiseStd?: number[]): QueryResult {
  checkPlan(q, schema, plan);
  if (sums.length !== plan.entries.length) throw new RangeError(`sums: expected ${plan.entries.length} entries for ${q.kind}, got ${sums.length}`);
  for (let i = 0; i < sums.length; i++) if (typeof sums[i] !== 'bigint') throw new TypeError(`sums[${i}]: expected a bigint`);
  if (noiseStd !== undefined && noiseStd.length !== sums.length) throw new RangeError(`noiseStd: expected ${sums.length} entries, got ${noiseStd.length}`);
  const kind = KINDS[q.kind];
  const fin = plan.dpGridBits !== undefined && kind.dp ? kind.dp.finalize : kind.finalize;
  return fin(q, schema, { sums: [...sums], scaleBits: [...plan.scaleBits], ...(noiseStd ? { noiseStd: [...noiseStd] } : {}) });
}

/**
 * Post-processes released sums. Noisy (DP) sums may fail it (e.g. X'X no longer positive
 * definite): then there is no result and the noisy sufficient statistics are released with the
 * reason; exact sums must post-process, so their failure is thrown. `describe` renders the error
 * for the recipient (the aggregator hides internal errors). `noiseStd`: the released noise per
 * entry (privacy.ts noiseStd) for kinds whose post-processing accounts for it (kaplan_meier).
 */
export function finalizeReleased(
  q: Query, schema: Schema, plan: Plan, sums: bigint[], noisy: boolean, describe: (e: unknown) => string = (e) => (e as Error).message, noiseStd?: number[],
): { result?: QueryResult; postError: string } {
  try {
    return { result: finalize(q, schema, plan, sums, noiseStd), postError: '' };
  } catch (e) {
    if (!noisy) throw e;
    return { postError: `post-processing of the noisy statistics failed: ${describe(e)}; the noisy sufficient statistics are released` };
  }
}

/**
 * Under differential privacy no party refuses a query because few of its records match (that
 * refusal would reveal an exact local count for free): small cohorts are flagged from the released,
 * noisy row count instead. Adds a note to `result` when its noisy n is below `minCohort`; this is
 * post-processing of the release only.
 */
export function flagSmallCohort(result: QueryResult, minCohort: number): QueryResult {
  if (minCohort > 0 && Number.isFinite(result.n) && result.n < minCohort) {
    result.notes.push(`the noisy row count n = ${Number(result.n.toPrecision(4))} is below the federation's minimum cohort of ${minCohort}: the result describes very few records and is dominated by the DP noise`);
  }
  return result;
}

/** Signed sums to ring elements in [0, 2^ringBits) (two's complement). */
export function toRing(sums: bigint[], ringBits: 32 | 64): bigint[] {
  return sums.map((s) => BigInt.asUintN(ringBits, s));
}

/** Ring elements back to signed sums in [−2^(ringBits−1), 2^(ringBits−1)). */
export function fromRing(values: bigint[], ringBits: 32 | 64): bigint[] {
  return values.map((v) => BigInt.asIntN(ringBits, v));
}
