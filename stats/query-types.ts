/**
 * The shape of a federated query and its bounds, without the checks against a schema (query.ts):
 * the query kinds' definitions (kinds/) import these, and query.ts imports the kinds.
 */
export const QUERY_KINDS = [
  'count', 'sum', 'mean', 'variance', 'histogram', 'frequency',
  'contingency', 'covariance', 'correlation', 'linear_regression', 'marginal',
] as const;
export type QueryKind = (typeof QUERY_KINDS)[number];

export const PREDICATE_OPS = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'in', 'between', 'is_missing', 'not_missing'] as const;
export type PredicateOp = (typeof PREDICATE_OPS)[number];

/** 'between' = [lo, hi] inclusive; 'in' = list; 'is_missing'/'not_missing' = []. */
export interface Predicate {
  column: string;
  op: PredicateOp;
  values: (string | number)[];
}

export interface Query {
  kind: QueryKind;
  columns: string[];
  filter: Predicate[];
  /** Histogram bin edges, strictly increasing. */
  bins?: number[];
  /** Response of linear_regression. */
  target?: string;
  /** marginal: bin edges of each column, in the order of columns ([] for a categorical column). */
  edges?: number[][];
  /** marginal: the tables, each a list of indices into columns (default: one table of all columns). */
  tables?: number[][];
}

/**
 * Bounds of a query's shape, checked by parseQueryJson before anything else reads it (the query
 * arrives from an unauthenticated analyst; nothing unbounded may reach the planner, a log or an
 * error message).
 */
export const QUERY_LIMITS = {
  /** Columns of a query (covariance and regression take up to 50, marginal up to 64). */
  columns: 64,
  /** Characters of a column name (also target and kind). */
  name: 128,
  /** Predicates of a filter. */
  predicates: 64,
  /** Values of one predicate (an "in" list). */
  values: 1024,
  /** Characters of one text value. */
  valueLength: 256,
  /** Histogram bin edges, and edges of one marginal column. */
  edges: 10_001,
  /** Marginal tables, and entries of one table. */
  tables: 10_000,
  tableColumns: 64,
} as const;

/**
 * An input string as it may appear in an error or a log line: JSON-quoted, at most `max`
 * characters of it (default 32) and the length of the rest. Input is never echoed any other way.
 */
export function quote(input: unknown, max = 32): string {
  const s = typeof input === 'string' ? input : String(input);
  if (s.length <= max) return JSON.stringify(s);
  return `${JSON.stringify(s.slice(0, max))}… (${s.length} characters)`;
}

export class QueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryError';
  }
}
