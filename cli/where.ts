/**
 * Parses the CLI's filter syntax into predicates:
 *   "age >= 50", "sex = f", "sex != m", "stage in 3,4", "bili between 1,3",
 *   "trt is missing", "trt is not missing".
 */
import type { Predicate, PredicateOp } from '../stats/index.ts';

const OPS: Record<string, PredicateOp> = { '=': 'eq', '==': 'eq', '!=': 'ne', '<>': 'ne', '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge' };

function literal(s: string): string | number {
  const t = s.trim();
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return Number(t);
  return t.replace(/^"(.*)"$/, '$1');
}

export function parseWhere(text: string): Predicate {
  const s = text.trim();
  let m = /^([A-Za-z_][\w.]*)\s+is\s+(not\s+)?missing$/i.exec(s);
  if (m) return { column: m[1]!, op: m[2] ? 'not_missing' : 'is_missing', values: [] };
  m = /^([A-Za-z_][\w.]*)\s+(in|between)\s+(.+)$/i.exec(s);
  if (m) {
    const values = m[3]!.split(',').map(literal);
    return { column: m[1]!, op: m[2]!.toLowerCase() as PredicateOp, values };
  }
  m = /^([A-Za-z_][\w.]*)\s*(==|!=|<>|<=|>=|=|<|>)\s*(.+)$/.exec(s);
  if (m) return { column: m[1]!, op: OPS[m[2]!]!, values: [literal(m[3]!)] };
  throw Object.assign(new Error(`cannot parse filter ${JSON.stringify(text)}; examples: "age >= 50", "sex = f", "stage in 3,4", "bili between 1,3", "trt is missing"`), { name: 'QueryError' });
}
