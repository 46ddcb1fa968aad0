-- The five OMOP CDM v5.4 tables the recipe reads (docs/data-sources.md), with the CDM's column
-- names and types; columns the recipe does not use are left out. A real OMOP instance has them
-- all (created by the OHDSI DDL): the analysis query only names the columns below.
CREATE TABLE person (
  person_id              bigint  NOT NULL PRIMARY KEY,
  gender_concept_id      integer NOT NULL,
  year_of_birth          integer NOT NULL,
  month_of_birth         integer,
  day_of_birth           integer,
  race_concept_id        integer NOT NULL,
  ethnicity_concept_id   integer NOT NULL,
  person_source_value    varchar(50)
);
CREATE TABLE observation_period (
  observation_period_id          bigint  NOT NULL PRIMARY KEY,
  person_id                      bigint  NOT NULL REFERENCES person,
  observation_period_start_date  date    NOT NULL,
  observation_period_end_date    date    NOT NULL,
  period_type_concept_id         integer NOT NULL
);
CREATE TABLE condition_occurrence (
  condition_occurrence_id    bigint  NOT NULL PRIMARY KEY,
  person_id                  bigint  NOT NULL REFERENCES person,
  condition_concept_id       integer NOT NULL,
  condition_start_date       date    NOT NULL,
  condition_end_date         date,
  condition_type_concept_id  integer NOT NULL
);
CREATE TABLE measurement (
  measurement_id               bigint  NOT NULL PRIMARY KEY,
  person_id                    bigint  NOT NULL REFERENCES person,
  measurement_concept_id       integer NOT NULL,
  measurement_date             date    NOT NULL,
  measurement_type_concept_id  integer NOT NULL,
  value_as_number              numeric,
  unit_concept_id              integer
);
CREATE TABLE death (
  person_id               bigint  NOT NULL PRIMARY KEY REFERENCES person,
  death_date              date    NOT NULL,
  death_type_concept_id   integer
);
