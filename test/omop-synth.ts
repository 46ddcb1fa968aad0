/**
 * A small synthetic OMOP CDM instance for tests (examples/omop/ddl.sql's five tables), generated
 * from a seed: persons with observation periods, type 2 diabetes and hypertension diagnoses
 * (some outside the observation period, which the recipe must ignore), HbA1c and BMI
 * measurements (some after the index date, some out of the schema's bounds), deaths. A few
 * persons are under 18 at their index date (rejected by the schema) or of unknown gender (missing).
 */
import type pg from 'pg';

/** mulberry32: a small deterministic PRNG (test data only). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DAY = 86_400_000;
const iso = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export interface OmopTables {
  person: unknown[][];
  observation_period: unknown[][];
  condition_occurrence: unknown[][];
  measurement: unknown[][];
  death: unknown[][];
}

export function generateOmop(seed: number, persons: number, idOffset: number): OmopTables {
  const r = prng(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const t: OmopTables = { person: [], observation_period: [], condition_occurrence: [], measurement: [], death: [] };
  let nextId = idOffset * 100;
  for (let i = 0; i < persons; i++) {
    const pid = idOffset + i;
    const u = r();
    const gender = u < 0.48 ? 8532 : u < 0.96 ? 8507 : 0;
    const start = Date.UTC(2008, 0, 1) + int(0, 1500) * DAY;
    const end = start + int(400, 4000) * DAY;
    const child = r() < 0.04;
    const yob = child ? new Date(start).getUTCFullYear() - int(3, 10) : int(1930, 1985);
    t.person.push([pid, gender, yob, int(1, 12), int(1, 28), 8527, 38003564, `src-${pid}`]);
    t.observation_period.push([nextId++, pid, iso(start), iso(end), 32817]);
    if (r() < 0.1) t.condition_occurrence.push([nextId++, pid, 201826, iso(start - int(30, 900) * DAY), null, 32817]); // before the period: ignored
    if (r() > 0.7) continue; // no type 2 diabetes in the period: not in the cohort
    const index = start + Math.floor(r() * 0.6 * (end - start) / DAY) * DAY;
    t.condition_occurrence.push([nextId++, pid, 201826, iso(index), null, 32817]);
    if (r() < 0.3) t.condition_occurrence.push([nextId++, pid, 201826, iso(index + int(10, 300) * DAY), null, 32817]); // a later record
    if (r() < 0.4) t.condition_occurrence.push([nextId++, pid, 320128, iso(index + int(-2000, 300) * DAY), null, 32817]);
    if (r() < 0.85) {
      const high = r() < 0.03;
      t.measurement.push([nextId++, pid, 3004410, iso(index - int(0, 360) * DAY), 32817, high ? '23.5' : (5.2 + r() * 6).toFixed(1), 8554]);
      t.measurement.push([nextId++, pid, 3004410, iso(index - int(400, 900) * DAY), 32817, (5 + r() * 6).toFixed(1), 8554]); // older than a year: ignored
    }
    if (r() < 0.2) t.measurement.push([nextId++, pid, 3004410, iso(index + int(1, 200) * DAY), 32817, (5 + r() * 6).toFixed(1), 8554]); // after index: ignored
    if (r() < 0.8) t.measurement.push([nextId++, pid, 3038553, iso(index - int(0, 300) * DAY), 32817, r() < 0.02 ? '74.2' : (18 + r() * 27).toFixed(1), 9531]);
    if (r() < 0.25) t.death.push([pid, iso(index + int(1, Math.round((end - index) / DAY) + 400) * DAY), 32817]);
  }
  return t;
}

const COLUMNS: Record<keyof OmopTables, [string, string][]> = {
  person: [['person_id', 'bigint'], ['gender_concept_id', 'integer'], ['year_of_birth', 'integer'], ['month_of_birth', 'integer'], ['day_of_birth', 'integer'], ['race_concept_id', 'integer'], ['ethnicity_concept_id', 'integer'], ['person_source_value', 'varchar']],
  observation_period: [['observation_period_id', 'bigint'], ['person_id', 'bigint'], ['observation_period_start_date', 'date'], ['observation_period_end_date', 'date'], ['period_type_concept_id', 'integer']],
  condition_occurrence: [['condition_occurrence_id', 'bigint'], ['person_id', 'bigint'], ['condition_concept_id', 'integer'], ['condition_start_date', 'date'], ['condition_end_date', 'date'], ['condition_type_concept_id', 'integer']],
  measurement: [['measurement_id', 'bigint'], ['person_id', 'bigint'], ['measurement_concept_id', 'integer'], ['measurement_date', 'date'], ['measurement_type_concept_id', 'integer'], ['value_as_number', 'numeric'], ['unit_concept_id', 'integer']],
  death: [['person_id', 'bigint'], ['death_date', 'date'], ['death_type_concept_id', 'integer']],
};

/** Inserts the tables (one INSERT … SELECT FROM unnest per table). */
export async function insertOmop(client: pg.Client, t: OmopTables): Promise<void> {
  for (const table of ['person', 'observation_period', 'condition_occurrence', 'measurement', 'death'] as const) {
    const cols = COLUMNS[table];
    const rows = t[table];
    if (rows.length === 0) continue;
    const arrays = cols.map((_, j) => rows.map((row) => row[j]));
    await client.query(`INSERT INTO ${table} (${cols.map((c) => c[0]).join(', ')}) SELECT * FROM unnest(${cols.map((c, j) => `$${j + 1}::${c[1]}[]`).join(', ')})`, arrays);
  }
}
