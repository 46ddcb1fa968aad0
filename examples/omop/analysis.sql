-- OMOP CDM (v5.x) → the analysis table of examples/omop/schema.json: one row per person with a
-- type 2 diabetes diagnosis inside an observation period. Run by the party as
--   blindsum party … --schema examples/omop/schema.json \
--     --source postgres://blindsum_reader@db.hospital.local:5432/omop --query-file examples/omop/analysis.sql
-- in a read-only transaction (set search_path, or prefix the tables with your CDM schema, e.g. cdm.person).
--
-- Concepts (OMOP standard vocabulary; check them against your Athena vocabulary release):
--   201826   Type 2 diabetes mellitus (SNOMED)   condition_occurrence.condition_concept_id
--   320128   Essential hypertension (SNOMED)     condition_occurrence.condition_concept_id
--   3004410  Hemoglobin A1c/Hemoglobin.total in Blood (LOINC 4548-4), in %   measurement
--   3038553  Body mass index (LOINC 39156-5), in kg/m2                       measurement
--   8507 / 8532  MALE / FEMALE                   person.gender_concept_id
-- Descendants: a real study would expand 201826 and 320128 through concept_ancestor; the
-- example keeps the concept ids literal so that it runs on the five tables alone.
WITH index_event AS (           -- first T2D diagnosis inside an observation period
  SELECT co.person_id, MIN(co.condition_start_date) AS index_date
  FROM condition_occurrence co
  JOIN observation_period op
    ON op.person_id = co.person_id
   AND co.condition_start_date BETWEEN op.observation_period_start_date AND op.observation_period_end_date
  WHERE co.condition_concept_id = 201826
  GROUP BY co.person_id
),
cohort AS (                     -- follow-up ends at the end of that observation period
  SELECT ie.person_id, ie.index_date, op.observation_period_end_date AS end_date
  FROM index_event ie
  JOIN observation_period op
    ON op.person_id = ie.person_id
   AND ie.index_date BETWEEN op.observation_period_start_date AND op.observation_period_end_date
),
hba1c AS (                      -- the last HbA1c in the year up to the index date
  SELECT DISTINCT ON (m.person_id) m.person_id, m.value_as_number
  FROM measurement m
  JOIN cohort c ON c.person_id = m.person_id
  WHERE m.measurement_concept_id = 3004410
    AND m.value_as_number IS NOT NULL
    AND m.measurement_date BETWEEN c.index_date - 365 AND c.index_date
  ORDER BY m.person_id, m.measurement_date DESC, m.measurement_id DESC
),
bmi AS (                        -- the last BMI in the year up to the index date
  SELECT DISTINCT ON (m.person_id) m.person_id, m.value_as_number
  FROM measurement m
  JOIN cohort c ON c.person_id = m.person_id
  WHERE m.measurement_concept_id = 3038553
    AND m.value_as_number IS NOT NULL
    AND m.measurement_date BETWEEN c.index_date - 365 AND c.index_date
  ORDER BY m.person_id, m.measurement_date DESC, m.measurement_id DESC
)
SELECT
  p.person_id::text                                            AS person_id,    -- identifier: never leaves the party
  EXTRACT(YEAR FROM c.index_date)::integer - p.year_of_birth   AS age,          -- age at index, years
  CASE p.gender_concept_id WHEN 8532 THEN 'female' WHEN 8507 THEN 'male' END AS sex, -- other concepts: NULL = missing
  h.value_as_number                                            AS hba1c,        -- %, NULL when none in the year before
  b.value_as_number                                            AS bmi,          -- kg/m2
  CASE WHEN EXISTS (
    SELECT 1 FROM condition_occurrence x
    WHERE x.person_id = c.person_id AND x.condition_concept_id = 320128 AND x.condition_start_date <= c.index_date
  ) THEN 'yes' ELSE 'no' END                                   AS hypertension,
  LEAST(COALESCE(d.death_date, c.end_date), c.end_date) - c.index_date AS time, -- days of follow-up
  CASE WHEN d.death_date IS NOT NULL AND d.death_date <= c.end_date THEN '1' ELSE '0' END AS status -- 1 = died during follow-up
FROM cohort c
JOIN person p ON p.person_id = c.person_id
LEFT JOIN hba1c h ON h.person_id = c.person_id
LEFT JOIN bmi b ON b.person_id = c.person_id
LEFT JOIN death d ON d.person_id = c.person_id
ORDER BY p.person_id
