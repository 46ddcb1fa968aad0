/**
 * `blindsum schema infer`: a draft schema from one site's CSV, for a data steward to review
 * (issue 19). Types from the values (identifier, numeric, integer, categorical), category lists,
 * bounds rounded outward to round numbers, and a top-level `draft` field that parseSchema refuses:
 * bounds and levels read from one site's data reveal its minima, maxima and rare categories if the
 * schema is published unreviewed, so no service loads a draft until the steward has widened them
 * to plausible ranges and deleted the field.
 */
import { parseCsv } from './csv.ts';
import { NUMBER_RE } from './dataset-builder.ts';

/** Strings read as missing when inferring (the dataset's own missing convention is the schema's). */
export const INFER_MISSING = ['', 'NA', 'N/A', 'NULL', 'null', 'NaN', '.'];
/** Integer columns with at most this many distinct values are drafted as categorical (numeric codes). */
export const INFER_MAX_CODES = 10;
/** Columns with more distinct non-numeric values than this are drafted as identifiers (or refused). */
export const INFER_MAX_LEVELS = 50;

export const DRAFT_NOTE =
  'REVIEW BEFORE USE: drafted by blindsum schema infer from one site\'s data. Bounds and category lists read from data reveal that site\'s minima, maxima and rare categories if published: widen every bound to a clinically plausible round range, check each type and category list (numeric codes were drafted as categorical), then delete this "draft" field. No blindsum service loads a schema that has it.';

export interface InferredSchema {
  /** The draft (JSON-ready; parseSchema refuses it until `draft` is removed). */
  schema: Record<string, unknown>;
  /** One line per column: what was decided and why. */
  notes: string[];
}

/** A round step for a range: 1, 2 or 5 × 10^k, about a tenth of the range. */
function roundStep(range: number): number {
  if (!(range > 0)) return 1;
  const k = Math.floor(Math.log10(range / 10));
  const base = 10 ** k;
  for (const m of [1, 2, 5, 10]) if (range / (m * base) <= 10) return m * base;
  return 10 * base;
}

/** [lo, hi] rounded outward to the step (lo stays ≥ 0 for non-negative data). */
function outward(min: number, max: number, integer: boolean): [number, number] {
  const step = Math.max(integer ? 1 : 0, roundStep(max - min || Math.abs(max) || 1));
  let lo = Math.floor(min / step) * step;
  let hi = Math.ceil(max / step) * step;
  if (hi === max) hi += step; // keep headroom: a value at the data's maximum is not the bound
  if (lo === min && min !== 0) lo -= step;
  if (min >= 0 && lo < 0) lo = 0;
  return [Number(lo.toPrecision(12)), Number(hi.toPrecision(12))];
}

export function inferSchema(csvText: string, opts: { name: string; maxRowsPerParty?: number; missing?: string[] }): InferredSchema {
  const table = parseCsv(csvText);
  const missing = new Set(opts.missing ?? INFER_MISSING);
  const notes: string[] = [];
  const columns = table.header.map((name, j) => {
    const raw = table.rows.map((r) => (r[j] ?? '').trim());
    const present = raw.filter((v) => !missing.has(v));
    const nMissing = raw.length - present.length;
    const distinct = [...new Set(present)];
    const numeric = present.length > 0 && present.every((v) => NUMBER_RE.test(v));
    const miss = nMissing > 0 ? `; ${nMissing} missing (${[...new Set(raw.filter((v) => missing.has(v)))].map((v) => JSON.stringify(v)).join(', ')})` : '';
    const looksId = /(^|[._])(id|patient|mrn|subject)$/i.test(name) || name.toLowerCase() === 'id';
    if (looksId && distinct.length === present.length && present.length > INFER_MAX_CODES) {
      notes.push(`${name}: identifier (named like one, ${distinct.length} distinct values: never aggregated)${miss}`);
      return { name, type: 'identifier' };
    }
    if (numeric) {
      const xs = present.map(Number);
      const integer = xs.every((x) => Number.isInteger(x));
      if (distinct.length <= INFER_MAX_CODES) {
        // Few distinct values (1/2, 0/0.5/1, grade 1–3): codes of a factor more often than measurements.
        const cats = [...new Map(present.map((v) => [Number(v), v])).entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
        notes.push(`${name}: categorical with numeric codes ${cats.join(', ')} (≤ ${INFER_MAX_CODES} distinct values); make it ${integer ? 'integer' : 'numeric'} if it is a measurement, a count or a score${miss}`);
        return { name, type: 'categorical', categories: cats, ...(nMissing > 0 ? { missing: 'category' } : {}) };
      }
      const lo = Math.min(...xs);
      const hi = Math.max(...xs);
      const [min, max] = outward(lo, hi, integer);
      notes.push(`${name}: ${integer ? 'integer' : 'numeric'}, data in [${lo}, ${hi}], drafted bounds [${min}, ${max}]: widen to a plausible range${miss}`);
      return { name, type: integer ? 'integer' : 'numeric', min, max };
    }
    if (distinct.length > INFER_MAX_LEVELS) {
      notes.push(`${name}: identifier (${distinct.length} distinct text values: too many for a category; check that it is one)${miss}`);
      return { name, type: 'identifier' };
    }
    const cats = distinct.sort();
    notes.push(`${name}: categorical, ${cats.length} levels${miss}`);
    return { name, type: 'categorical', categories: cats, ...(nMissing > 0 ? { missing: 'category' } : {}) };
  });
  // The non-empty missing strings the file uses (R's "NA", …): declared so the data load as read.
  const used = new Set<string>();
  for (const r of table.rows) for (const v of r) if (v.trim() !== '' && missing.has(v.trim())) used.add(v.trim());
  const rows = table.rows.length;
  const maxRowsPerParty = opts.maxRowsPerParty ?? Math.max(1000, 10 ** Math.ceil(Math.log10(Math.max(1, rows) * 2)));
  if (used.size > 0) notes.push(`missingValues: ${[...used].map((v) => JSON.stringify(v)).join(', ')} read as missing in every column (an empty field always is)`);
  return { schema: { draft: DRAFT_NOTE, name: opts.name, maxRowsPerParty, ...(used.size > 0 ? { missingValues: [...used].sort() } : {}), columns }, notes };
}
