/**
 * Shared pieces of the scale benches (bench/scale.ts, bench/scale-sim.ts): a query whose
 * statistic vector has a chosen length L, generated party data, the central sums to compare
 * with, /proc memory readings, log-log fits and table printing.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { buildDataset, formatCsv, localStatistics, parseCsv, parseSchema, planQuery, type Query, type Schema } from '../stats/index.ts';

export const PBC_DIR = fileURLToPath(new URL('../examples/pbc/', import.meta.url));
export const PBC_SCHEMA_PATH = join(PBC_DIR, 'schema.json');
export const pbcSchema: Schema = parseSchema(JSON.parse(readFileSync(PBC_SCHEMA_PATH, 'utf8')));

/** Two wide numeric columns of pbc: a marginal over them has up to 10001 × 10001 levels. */
const MARGINAL_COLUMNS: readonly { name: string; min: number; max: number }[] = [
  { name: 'time', min: 0, max: 10_000 },
  { name: 'chol', min: 0, max: 2_000 },
];
const MAX_EDGES = 10_001;

function linspace(min: number, max: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => (i === count - 1 ? max : min + ((max - min) * i) / (count - 1)));
}

/**
 * A marginal over binned numeric columns of pbc whose layout has exactly L entries when L
 * factors as a·b with a, b ≤ 10001 (a numeric column with E edges has E levels: E − 1 bins and
 * "(missing)"), else about L. Returns the query and its exact length.
 */
export function marginalOfLength(L: number): { query: Query; length: number } {
  if (!Number.isInteger(L) || L < 2 || L > 1 << 20) throw new RangeError(`L: expected an integer in [2, 2^20], got ${L}`);
  let levels: number[];
  if (L <= MAX_EDGES) levels = [L];
  else {
    let a = 0;
    for (let d = Math.min(MAX_EDGES, Math.floor(Math.sqrt(L))); d >= 2; d--) {
      if (L % d === 0 && L / d <= MAX_EDGES) {
        a = d;
        break;
      }
    }
    if (a === 0) a = Math.ceil(Math.sqrt(L));
    levels = [a, Math.max(2, Math.round(L / a))];
  }
  const cols = MARGINAL_COLUMNS.slice(0, levels.length);
  const query: Query = {
    kind: 'marginal', columns: cols.map((c) => c.name), filter: [], edges: cols.map((c, i) => linspace(c.min, c.max, levels[i]!)),
  };
  return { query, length: levels.reduce((x, y) => x * y, 1) };
}

/**
 * Party data: party i gets `rows` rows of pbc taken cyclically from offset 37·i, each with a new
 * patient id, so every party has the same, configurable number of rows at any n (a random split
 * of 418 rows leaves 1–2 rows per party at n = 300, below any cohort minimum).
 */
export function partyCsvs(n: number, rows: number): string[] {
  const table = parseCsv(readFileSync(join(PBC_DIR, 'pbc.csv'), 'utf8'));
  const idCol = table.header.indexOf('id');
  return Array.from({ length: n }, (_, i) => {
    const out: string[][] = [];
    for (let k = 0; k < rows; k++) {
      const r = [...table.rows[(37 * i + k) % table.rows.length]!];
      if (idCol >= 0) r[idCol] = `p${i + 1}-${k + 1}`;
      out.push(r);
    }
    return formatCsv(table.header, out);
  });
}

/** The exact sums a central computation gets on the concatenated party data (exact mode). */
export function centralSums(query: Query, csvs: string[], n: number): bigint[] {
  const header = parseCsv(csvs[0]!).header;
  const rows = csvs.flatMap((c) => parseCsv(c).rows);
  const schema: Schema = { ...pbcSchema, maxRowsPerParty: Math.max(pbcSchema.maxRowsPerParty, rows.length) };
  const { dataset } = buildDataset(schema, formatCsv(header, rows));
  const plan = planQuery(query, schema, { parties: n, ringBits: 64 });
  return localStatistics(query, schema, plan, dataset).sums;
}

export function sameSums(a: readonly bigint[], b: readonly bigint[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A field of /proc/PID/status in kB (VmHWM = peak RSS, VmRSS = current), or undefined when the process is gone. */
export function procStatusKb(pid: number | undefined, field: 'VmHWM' | 'VmRSS'): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Resets a process's peak RSS (VmHWM) to its current RSS (Linux ≥ 4.0: "5" > clear_refs); false when not possible. */
export function resetPeakRss(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Total size of the files under `dir` whose path matches `match` (recursive). */
export function bytesUnder(dir: string, match: RegExp = /./): number {
  let total = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of entries) {
    const p = join(dir, name);
    try {
      const st = statSync(p);
      if (st.isDirectory()) total += bytesUnder(p, match.test(name) ? /./ : match);
      else if (match.test(name)) total += st.size;
    } catch {
      /* removed meanwhile */
    }
  }
  return total;
}

/** Transcript files of an aggregator data dir: transcript.sqlite (+ -wal, -shm) and any blob store. */
export const TRANSCRIPT_FILES = /transcript|blob/i;

/**
 * Bytes of the transcript entries of one session in the aggregator's transcript.sqlite, by
 * sender (party ids, the aggregator's id): the logical bytes logged, whatever the file layout.
 */
export function transcriptEntryBytes(dataDir: string, session: string): Map<string, number> {
  const out = new Map<string, number>();
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(join(dataDir, 'transcript.sqlite'), { readOnly: true });
    const rows = db.prepare('SELECT sender, SUM(LENGTH(entry)) AS bytes FROM transcript WHERE session = ? GROUP BY sender').all(session) as { sender: string; bytes: number }[];
    for (const r of rows) out.set(r.sender, Number(r.bytes));
  } catch {
    /* no transcript yet, or another layout */
  } finally {
    db?.close();
  }
  return out;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Least-squares fit of log y = a + b·log x over the points with x, y > 0: slope b, intercept a (natural log), or undefined with < 2 distinct x. */
export function logLogFit(points: readonly { x: number; y: number }[]): { slope: number; intercept: number; at: (x: number) => number } | undefined {
  const p = points.filter((q) => q.x > 0 && q.y > 0 && Number.isFinite(q.y));
  if (new Set(p.map((q) => q.x)).size < 2) return undefined;
  const lx = p.map((q) => Math.log(q.x));
  const ly = p.map((q) => Math.log(q.y));
  const mx = lx.reduce((a, b) => a + b, 0) / p.length;
  const my = ly.reduce((a, b) => a + b, 0) / p.length;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < p.length; i++) {
    sxy += (lx[i]! - mx) * (ly[i]! - my);
    sxx += (lx[i]! - mx) ** 2;
  }
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  return { slope, intercept, at: (x) => Math.exp(intercept + slope * Math.log(x)) };
}

export function mb(kb: number | undefined): string {
  return kb === undefined ? '—' : (kb / 1024).toFixed(0);
}

export function bytesText(b: number | undefined): string {
  if (b === undefined || !Number.isFinite(b)) return '—';
  if (b >= 1e9) return `${(b / 1e9).toFixed(2)} GB`;
  if (b >= 1e6) return `${(b / 1e6).toFixed(1)} MB`;
  if (b >= 1e3) return `${(b / 1e3).toFixed(1)} kB`;
  return `${b} B`;
}

export function load(): string {
  return loadavg().map((x) => x.toFixed(1)).join(' ');
}

/** Prints rows as a right-aligned table (first row is the header). */
export function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) console.log(r.map((c, i) => (i === r.length - 1 ? c : c.padStart(widths[i]!))).join('  '));
}

/** "1e3,1e5" / "1000,100000" → numbers. */
export function numberList(text: string | undefined, fallback: number[]): number[] {
  if (!text) return fallback;
  const out = text.split(',').map((s) => Number(s.trim()));
  if (out.some((x) => !Number.isFinite(x) || x <= 0)) throw new RangeError(`expected a comma-separated list of positive numbers, got ${JSON.stringify(text)}`);
  return out.map((x) => Math.round(x));
}

export function exp10(L: number): string {
  const k = Math.log10(L);
  return Number.isInteger(k) ? `10^${k}` : String(L);
}
