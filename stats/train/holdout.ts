/**
 * The held-out split of a training plan (docs/training.md § Federated evaluation): which rows
 * training skips and evaluation uses. A row's membership is a keyed hash of its own content, so a
 * party decides it on its own rows and a central reference decides it on the pooled rows, with the
 * same answer and without knowing which party holds which row:
 *
 *   h = SHA-256("blindsum/v1/train/holdout" ‖ 0x00 ‖ u32be(len(seed)) ‖ seed ‖ value₁ ‖ … ‖ value_m)
 *   held out ⇔ u < holdout, u = (the first 53 bits of h) / 2^53,
 *
 * seed = the plan's `train.seed` (UTF-8), and value_j the row's value of the j-th non-identifier
 * column of the schema (all of them, in the schema's order, whatever the model's columns) as the
 * loaded dataset holds it: a numeric or integer column as 0x01 ‖ its float64 big-endian (−0 as 0),
 * a missing one as 0x00 and 8 zero bytes; a categorical column as 0x02 ‖ its level index as an
 * int32 big-endian (−1 when missing). The split is a deterministic per-row predicate (like a
 * filter): it does not change any query's sensitivity. Identical rows fall on the same side.
 */
import { utf8 } from '../../crypto/bytes.ts';
import { sha256 } from '../../crypto/sha256.ts';
import { selectRows, type Dataset } from '../dataset.ts';
import { QueryError, quote } from '../query-types.ts';

export const HOLDOUT_DOMAIN = 'blindsum/v1/train/holdout';
/** Largest held-out fraction a plan may ask for (training needs rows too). */
export const MAX_HOLDOUT = 0.9;

const TWO53 = 2 ** 53;

/** The last split computed per dataset (a job's rounds ask for the same one again). */
const LAST = new WeakMap<Dataset, { seed: string; u: Float64Array }>();

/**
 * The per-row uniform u ∈ [0, 1) of the split, for every row of the dataset (one SHA-256 per row,
 * a few microseconds; the last seed's values are kept per dataset object, read-only).
 */
export function holdoutUniforms(dataset: Dataset, seed: string): Float64Array {
  const last = LAST.get(dataset);
  if (last && last.seed === seed && last.u.length === dataset.rowCount) return last.u;
  const u = computeUniforms(dataset, seed);
  LAST.set(dataset, { seed, u });
  return u;
}

function computeUniforms(dataset: Dataset, seed: string): Float64Array {
  const cols = dataset.schema.columns.filter((c) => c.type !== 'identifier').map((c) => {
    const col = dataset.columns.get(c.name);
    if (!col) throw new TypeError(`holdout: the dataset has no column "${c.name}"`);
    return col;
  });
  const s = utf8(seed);
  const tag = utf8(HOLDOUT_DOMAIN);
  const head = tag.length + 1 + 4 + s.length;
  const buf = new Uint8Array(head + 9 * cols.length);
  buf.set(tag, 0);
  const dv = new DataView(buf.buffer);
  dv.setUint32(tag.length + 1, s.length, false);
  buf.set(s, tag.length + 5);
  const out = new Float64Array(dataset.rowCount);
  for (let r = 0; r < dataset.rowCount; r++) {
    let o = head;
    for (const col of cols) {
      if (col.kind === 'numeric') {
        const v = col.values[r]!;
        if (Number.isNaN(v)) {
          buf[o] = 0;
          dv.setFloat64(o + 1, 0, false);
        } else {
          buf[o] = 1;
          dv.setFloat64(o + 1, v === 0 ? 0 : v, false);
        }
      } else {
        buf[o] = 2;
        dv.setInt32(o + 1, col.codes[r]! < 0 ? -1 : col.codes[r]!, false);
        dv.setUint32(o + 5, 0, false);
      }
      o += 9;
    }
    const h = sha256(buf);
    const hi = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
    const lo = ((h[4]! << 24) | (h[5]! << 16) | (h[6]! << 8) | h[7]!) >>> 0;
    out[r] = (hi * 2 ** 21 + (lo >>> 11)) / TWO53;
  }
  return out;
}

/**
 * Which rows are held out (1) at fraction `holdout` in [0, MAX_HOLDOUT]; null when holdout is 0
 * (no row is held out: training and evaluation both see every row).
 */
export function holdoutMask(dataset: Dataset, seed: string, holdout: number): Uint8Array | null {
  if (!(holdout >= 0 && holdout <= MAX_HOLDOUT)) throw new RangeError(`holdout: expected a fraction in [0, ${MAX_HOLDOUT}], got ${holdout}`);
  if (holdout === 0) return null;
  const u = holdoutUniforms(dataset, seed);
  const mask = new Uint8Array(dataset.rowCount);
  for (let r = 0; r < u.length; r++) mask[r] = u[r]! < holdout ? 1 : 0;
  return mask;
}

/**
 * The indices of the rows on one side of the split: the training rows (not held out) or the
 * evaluation rows (held out; every row when holdout is 0, so evaluation then sees training rows).
 */
export function holdoutRows(dataset: Dataset, seed: string, holdout: number, side: 'training' | 'evaluation'): Int32Array {
  const mask = holdoutMask(dataset, seed, holdout);
  const rows: number[] = [];
  for (let r = 0; r < dataset.rowCount; r++) {
    if (mask === null || (mask[r] === 1) === (side === 'evaluation')) rows.push(r);
  }
  return Int32Array.from(rows);
}

/** The rows a training round uses: the dataset without its held-out rows (itself when holdout is 0). */
export function trainingRows(dataset: Dataset, spec: { seed: string; holdout?: number }): Dataset {
  return spec.holdout ? selectRows(dataset, holdoutRows(dataset, spec.seed, spec.holdout, 'training')) : dataset;
}

/** The rows an evaluation uses: the held-out rows (every row when holdout is 0). */
export function evaluationRows(dataset: Dataset, spec: { seed: string; holdout?: number }): Dataset {
  return spec.holdout ? selectRows(dataset, holdoutRows(dataset, spec.seed, spec.holdout, 'evaluation')) : dataset;
}

/** A plan's holdout, checked (QueryError naming the bound). */
export function checkHoldout(spec: { holdout?: number }): void {
  const h = spec.holdout;
  if (h !== undefined && !(typeof h === 'number' && h >= 0 && h <= MAX_HOLDOUT)) {
    throw new QueryError(`train.holdout: the held-out fraction must be a number in [0, ${MAX_HOLDOUT}] (0: no held-out rows), got ${quote(h)}`);
  }
}
