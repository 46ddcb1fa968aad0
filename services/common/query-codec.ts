/** The one mapping between the wire QuerySpec and the statistics library's Query. */
import type { QuerySpec, Value } from '../../gen/blindsum/v1/blindsum.ts';
import { parseQueryJson, QUERY_LIMITS, type Query } from '../../stats/index.ts';

function valueToJs(v: Value): string | number {
  if (v.value === undefined) throw Object.assign(new Error('predicate value is empty (set number or text)'), { name: 'QueryError' });
  return v.value.value;
}

/** Validates shape (kind, ops, value types) via the stats library; schema checks come after. */
export function queryFromProto(spec: QuerySpec | undefined): Query {
  if (spec === undefined) throw Object.assign(new Error('query is missing'), { name: 'QueryError' });
  const json: Record<string, unknown> = {
    kind: spec.kind,
    columns: spec.columns,
    filter: spec.filter.map((p) => ({ column: p.column, op: p.op, values: p.values.map(valueToJs) })),
  };
  if (spec.bins.length > 0) json['bins'] = spec.bins;
  if (spec.target !== '') json['target'] = spec.target;
  if (spec.edges.length > 0) json['edges'] = spec.edges.map((e) => e.edges);
  if (spec.tables.length > 0) json['tables'] = spec.tables.map((t) => t.columns);
  if (spec.positive.length > 0) json['positive'] = spec.positive;
  for (const f of ['offset', 'time', 'event', 'strata', 'job'] as const) if (spec[f] !== '') json[f] = spec[f];
  if (spec.times.length > 0) json['times'] = spec.times;
  if (spec.state.length > 0) json['state'] = spec.state;
  if (spec.round !== 0) json['round'] = spec.round;
  if (spec.trainJson !== '') {
    if (spec.trainJson.length > QUERY_LIMITS.trainJson) throw Object.assign(new Error(`train_json: at most ${QUERY_LIMITS.trainJson} characters, got ${spec.trainJson.length}`), { name: 'QueryError' });
    try {
      json['train'] = JSON.parse(spec.trainJson) as unknown;
    } catch {
      throw Object.assign(new Error('train_json: not JSON'), { name: 'QueryError' });
    }
  }
  return parseQueryJson(json);
}

export function queryToProto(q: Query): QuerySpec {
  return {
    kind: q.kind,
    columns: [...q.columns],
    filter: q.filter.map((p) => ({
      column: p.column,
      op: p.op,
      values: p.values.map((v): Value => (typeof v === 'number' ? { value: { $case: 'number', value: v } } : { value: { $case: 'text', value: v } })),
    })),
    bins: q.bins ? [...q.bins] : [],
    target: q.target ?? '',
    edges: q.edges ? q.edges.map((e) => ({ edges: [...e] })) : [],
    tables: q.tables ? q.tables.map((t) => ({ columns: [...t] })) : [],
    positive: q.positive ? [...q.positive] : [],
    offset: q.offset ?? '',
    time: q.time ?? '',
    event: q.event ?? '',
    strata: q.strata ?? '',
    times: q.times ? [...q.times] : [],
    state: q.state ? [...q.state] : [],
    job: q.job ?? '',
    round: q.round ?? 0,
    trainJson: q.train ? JSON.stringify(q.train) : '',
  };
}
