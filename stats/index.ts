/** Public API of the statistics library (pure, no I/O: it is bundled for the browser auditor; reading a CSV file is stats/dataset-file.ts). */
export { parseSchema, schemaDigest, findColumn, levelsOf, absBound, patientColumn, SchemaError, MISSING_LEVEL, MAX_IDENTIFIER_LENGTH, COLUMN_TYPES } from './schema.ts';
export type { Schema, ColumnSpec, ColumnType, MissingPolicy, OutOfBoundsPolicy } from './schema.ts';
export { parseCsv, formatCsv, CsvError } from './csv.ts';
export type { CsvTable } from './csv.ts';
export {
  buildDataset, selectRows, splitAssignment, partitionDataset, splitDataset,
  splitDatasetByColumn, splitCsvText, formatLoadReport, formatPopulation, DatasetError, DatasetBuilder, DROP_REASONS,
} from './dataset.ts';
export type { Dataset, Column, NumericColumn, CategoricalColumn, LoadReport, RejectedRow, BuildOptions, DropReason, Population } from './dataset.ts';
export { validateQuery, parseQueryJson, describeQuery, quote, QueryError, QUERY_KINDS, QUERY_LIMITS, PREDICATE_OPS } from './query.ts';
export type { Query, QueryKind, Predicate, PredicateOp } from './query.ts';
export { matchRows, countMatching } from './filter.ts';
export { KINDS } from './kinds/index.ts';
export type * from './kinds/types.ts';
export { planQuery, localStatistics, localStatisticsInt64, finalize, finalizeReleased, flagSmallCohort, toRing, fromRing, MAX_SCALE_BITS, NAMED_ENTRIES_MAX, resultEntryNames } from './plan.ts';
export type { Plan, PlanOptions } from './plan.ts';
export { centralResult } from './central.ts';
export { compareResults, formatResult, numericFields } from './result.ts';
export { canonicalJson } from './canonical.ts';
export { checkReleasedSums, releaseRanges, ReleaseCheckError, RELEASE_NOISE_MARGIN_SD, MAX_RAW_DECRYPTION_ERROR, type EntryRange } from './release-check.ts';
export { privacyRho, planNoise, noiseShare, spentRho, noiseStd, noiseUncertainty, DP_GRID_BITS } from './privacy.ts';
export type { PrivacySpec, NoisePlan } from './privacy.ts';
export { chooseTrainDp, jobRoundsAhead, trainDpPlan } from './kinds/train-dp.ts';
export { noiseVerdict, NOISE_TARGET_FRACTION, type NoiseVerdict } from './noise-verdict.ts';
