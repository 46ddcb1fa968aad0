/**
 * The query form, built from the federation's schema (ListParties schema_json): kind, columns,
 * the kind's own fields, filters and privacy. Every control has a label; fields a kind does not
 * take are hidden. `read()` returns the query as the library's Query (checked by the page with
 * the library's own validation before anything is signed).
 */
import { el } from '../../lib/dom.ts';
import type { Predicate, PredicateOp, Query, QueryKind } from '../../../stats/query-types.ts';
import type { PrivacySpec } from '../../../stats/privacy.ts';
import type { ColumnSpec, Schema } from '../../../stats/schema.ts';

/**
 * Kinds the form composes: the one-round kinds. The iterative ones (logistic and Poisson
 * regression, Cox) are jobs of several rounds, each a query, run by the CLI (client/jobs.ts); a
 * single round from here would show the first Newton step, not the fit.
 */
export const FORM_KINDS: QueryKind[] = [
  'count', 'sum', 'mean', 'variance', 'histogram', 'frequency', 'contingency', 'covariance', 'correlation', 'linear_regression', 'kaplan_meier',
];
const OPS: PredicateOp[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'in', 'between', 'is_missing', 'not_missing'];
/** Which optional field each kind shows. */
const FIELDS: Record<string, QueryKind[]> = {
  target: ['linear_regression'],
  positive: ['kaplan_meier'],
  time: ['kaplan_meier'], event: ['kaplan_meier'], strata: ['kaplan_meier'], times: ['kaplan_meier'],
  bins: ['histogram'],
};

export interface ComposedQuery {
  query: Query;
  /** secagg (pairwise masks) or ckks (multiparty CKKS: the result is encrypted to the analyst's CKKS key and decrypted in this page). */
  backend: 'secagg' | 'ckks';
  /** undefined = exact (no DP). */
  privacy: PrivacySpec | undefined;
}

const isNumeric = (c: ColumnSpec): boolean => c.type === 'numeric' || c.type === 'integer';
const numbers = (s: string): number[] => s.split(',').map((x) => x.trim()).filter((x) => x !== '').map(Number);
const list = (s: string): string[] => s.split(',').map((x) => x.trim()).filter((x) => x !== '');

function field(id: string, label: string, control: HTMLElement, hint?: string): HTMLDivElement {
  control.id = id;
  return el('div', { class: 'field', id: `${id}-field` }, el('label', { for: id }, label), control, hint ? el('small', {}, hint) : null);
}

function columnSelect(cols: ColumnSpec[], opts: { multiple?: boolean; optional?: boolean } = {}): HTMLSelectElement {
  const s = el('select', opts.multiple ? { multiple: true, size: Math.min(8, cols.length) } : {});
  if (opts.optional) s.appendChild(el('option', { value: '' }, '(none)'));
  for (const c of cols) s.appendChild(el('option', { value: c.name }, `${c.name} (${c.type})`));
  return s;
}

export class ComposeForm {
  readonly element: HTMLFormElement;
  readonly #schema: Schema;
  readonly #c: Record<string, HTMLInputElement | HTMLSelectElement>;
  readonly #filters: HTMLDivElement;
  #filterCount = 0;

  constructor(schema: Schema, onChange: () => void, onSubmit: () => void) {
    this.#schema = schema;
    const cols = schema.columns.filter((c) => c.type !== 'identifier');
    const numeric = cols.filter(isNumeric);
    const categorical = cols.filter((c) => c.type === 'categorical');
    const kind = el('select', {}, ...FORM_KINDS.map((k) => el('option', { value: k }, k)));
    kind.value = 'mean';
    this.#c = {
      kind, columns: columnSelect(cols, { multiple: true }), target: columnSelect(cols), positive: el('input', { type: 'text' }),
      time: columnSelect(numeric), event: columnSelect(categorical), strata: columnSelect(categorical, { optional: true }),
      times: el('input', { type: 'text' }), bins: el('input', { type: 'text' }),
      privacyMode: el('select', {}, el('option', { value: 'rho' }, 'zCDP ρ'), el('option', { value: 'epsdelta' }, '(ε, δ)'), el('option', { value: 'exact' }, 'exact (no DP; only if the federation allows it)')),
      rho: el('input', { type: 'number', step: 'any', min: '0', value: '0.1' }), epsilon: el('input', { type: 'number', step: 'any', min: '0', value: '1' }),
      delta: el('input', { type: 'text', value: '1e-6' }),
      backend: el('select', {}, el('option', { value: 'secagg' }, 'secure aggregation (pairwise masks)'), el('option', { value: 'ckks' }, 'multiparty CKKS (decrypted here with your CKKS key)')),
    };
    this.#filters = el('div', { class: 'filters', id: 'filters' });
    const c = this.#c;
    this.element = el('form', { id: 'compose', novalidate: true },
      el('fieldset', {}, el('legend', {}, 'Query'),
        field('q-kind', 'Kind', c['kind']!),
        field('q-columns', 'Columns (predictors for regressions)', c['columns']!, 'Ctrl/Shift + arrows select several'),
        field('q-target', 'Target (response)', c['target']!),
        field('q-positive', 'Levels that count as 1 (event / positive), comma-separated', c['positive']!),
        field('q-time', 'Follow-up time', c['time']!), field('q-event', 'Event column', c['event']!),
        field('q-strata', 'Strata', c['strata']!), field('q-times', 'Report numbers at risk at times (comma-separated)', c['times']!),
        field('q-bins', 'Bin edges (comma-separated, increasing)', c['bins']!),
      ),
      el('fieldset', {}, el('legend', {}, 'Filters'), this.#filters,
        el('button', { type: 'button', id: 'add-filter', onclick: () => { this.#addFilter(cols); onChange(); } }, 'Add a filter')),
      el('fieldset', {}, el('legend', {}, 'Privacy'),
        field('q-privacy', 'Privacy parameters', c['privacyMode']!), field('q-rho', 'ρ (zCDP)', c['rho']!),
        field('q-epsilon', 'ε', c['epsilon']!), field('q-delta', 'δ', c['delta']!)),
      el('fieldset', {}, el('legend', {}, 'Backend'),
        field('q-backend', 'Backend', c['backend']!, 'CKKS needs your CKKS key file (Sign in): the result is encrypted to it and decrypted in this page')),
      el('button', { type: 'submit', id: 'submit-query' }, 'Sign and submit'),
    );
    this.element.addEventListener('submit', (ev) => {
      ev.preventDefault();
      onSubmit();
    });
    this.element.addEventListener('input', () => {
      this.#update();
      onChange();
    });
    this.element.addEventListener('change', () => {
      this.#update();
      onChange();
    });
    c['columns']!.addEventListener('change', () => this.#suggestBins());
    this.#update();
  }

  #addFilter(cols: ColumnSpec[]): void {
    const i = this.#filterCount++;
    const column = columnSelect(cols);
    const op = el('select', {}, ...OPS.map((o) => el('option', { value: o }, o)));
    const values = el('input', { type: 'text' });
    const row: HTMLDivElement = el('div', { class: 'filter-row' },
      field(`f${i}-column`, 'Column', column), field(`f${i}-op`, 'Operator', op), field(`f${i}-values`, 'Values (comma-separated)', values),
      el('button', { type: 'button', 'aria-label': `remove filter ${i + 1}`, onclick: () => { row.remove(); this.element.dispatchEvent(new Event('change')); } }, 'Remove'));
    this.#filters.appendChild(row);
  }

  /** Shows the fields of the selected kind and privacy mode only. */
  #update(): void {
    const kind = this.#c['kind']!.value as QueryKind;
    for (const [name, kinds] of Object.entries(FIELDS)) document.getElementById(`q-${name}-field`)?.toggleAttribute('hidden', !kinds.includes(kind));
    document.getElementById('q-columns-field')?.toggleAttribute('hidden', kind === 'count' || kind === 'kaplan_meier');
    const mode = this.#c['privacyMode']!.value;
    document.getElementById('q-rho-field')?.toggleAttribute('hidden', mode !== 'rho');
    document.getElementById('q-epsilon-field')?.toggleAttribute('hidden', mode !== 'epsdelta');
    document.getElementById('q-delta-field')?.toggleAttribute('hidden', mode !== 'epsdelta');
  }

  /** Ten equal bins over the schema's bounds of the first selected numeric column. */
  #suggestBins(): void {
    const first = this.#selected('columns')[0];
    const c = this.#schema.columns.find((x) => x.name === first);
    if (!c || !isNumeric(c) || c.min === undefined || c.max === undefined) return;
    const lo = c.min;
    const hi = c.max;
    this.#c['bins']!.value = Array.from({ length: 11 }, (_x, i) => Number((lo + ((hi - lo) * i) / 10).toPrecision(6))).join(', ');
  }

  #selected(name: string): string[] {
    const s = this.#c[name] as HTMLSelectElement;
    return [...s.selectedOptions].map((o) => o.value);
  }

  /** Sets the form (used by the page test and to re-run a query). */
  set(values: Record<string, string | string[]>): void {
    for (const [k, v] of Object.entries(values)) {
      const c = this.#c[k];
      if (!c) continue;
      if (Array.isArray(v) && c instanceof HTMLSelectElement) for (const o of c.options) o.selected = v.includes(o.value);
      else c.value = String(v);
    }
    if (values['columns'] && !values['bins']) this.#suggestBins();
    this.#update();
  }

  read(): ComposedQuery {
    const c = this.#c;
    const kind = c['kind']!.value as QueryKind;
    const shows = (f: string): boolean => FIELDS[f]!.includes(kind);
    const colOf = (name: string): ColumnSpec | undefined => this.#schema.columns.find((x) => x.name === name);
    const filter: Predicate[] = [...this.#filters.querySelectorAll('.filter-row')].map((row) => {
      const [column, op, values] = [...row.querySelectorAll('select, input')] as (HTMLSelectElement | HTMLInputElement)[];
      const col = colOf(column!.value);
      const raw = list(values!.value);
      return { column: column!.value, op: op!.value as PredicateOp, values: col && isNumeric(col) ? raw.map(Number) : raw };
    });
    const query: Query = { kind, columns: kind === 'count' || kind === 'kaplan_meier' ? [] : this.#selected('columns'), filter };
    if (shows('target')) query.target = c['target']!.value;
    if (shows('positive')) query.positive = list(c['positive']!.value);
    if (shows('time')) query.time = c['time']!.value;
    if (shows('event')) query.event = c['event']!.value;
    if (shows('strata') && c['strata']!.value) query.strata = c['strata']!.value;
    if (shows('times') && c['times']!.value.trim()) query.times = numbers(c['times']!.value);
    if (shows('bins')) query.bins = numbers(c['bins']!.value);
    const mode = c['privacyMode']!.value;
    const privacy = mode === 'exact' ? undefined : mode === 'rho' ? { rho: Number(c['rho']!.value) } : { epsilon: Number(c['epsilon']!.value), delta: Number(c['delta']!.value) };
    return { query, privacy, backend: c['backend']!.value === 'ckks' ? 'ckks' : 'secagg' };
  }
}
