/**
 * A party node's Prometheus metrics (`blindsum party … --metrics-listen HOST:PORT`;
 * services/common/metrics-server.ts serves them): whether it is connected, its own privacy ledger
 * (spent and limit), the replies it sent by kind (advertiseKeys, maskedInput, refusal, …: refusals
 * and contributions at a glance), the bytes of the messages it sent to and received from the
 * aggregator (protobuf sizes: services/common/wire-bytes.ts), and the process's own metrics.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { ByteDirection } from '../common/wire-bytes.ts';
import { DROP_REASONS, type Population } from '../../stats/index.ts';

export interface PartyMetricsSources {
  connected(): boolean;
  spentRho(): number;
  limitRho: number;
  /** This party's load figures (exact: the operator's own; analysts get them only through the DP population kind). */
  population?: Population;
}

export class PartyMetrics {
  readonly registry = new Registry();
  readonly #replies: Counter<'kind'>;
  readonly #bytes: Record<ByteDirection, Counter>;

  constructor(src: PartyMetricsSources) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'blindsum_party_' });
    new Gauge({ name: 'blindsum_party_connected', help: '1 while connected to and admitted by the aggregator', registers: [r], collect() { this.set(src.connected() ? 1 : 0); } });
    new Gauge({ name: 'blindsum_party_budget_spent_rho', help: 'zCDP rho this party has released (its own ledger)', registers: [r], collect() { this.set(src.spentRho()); } });
    new Gauge({ name: 'blindsum_party_budget_limit_rho', help: 'The party policy\'s zCDP budget', registers: [r], collect() { this.set(src.limitRho); } });
    const p = src.population;
    if (p) {
      const rows = new Gauge({ name: 'blindsum_party_source_rows', help: 'Rows of this party\'s source at load, by status: loaded, or dropped for a reason (invalid_value, out_of_bounds, identifier, malformed, patient_bound); exact, the operator\'s own', labelNames: ['status'], registers: [r] });
      rows.set({ status: 'loaded' }, p.loaded);
      for (const reason of DROP_REASONS) rows.set({ status: `dropped_${reason}` }, p.dropped[reason]);
      new Gauge({ name: 'blindsum_party_source_rows_clipped', help: 'Loaded rows with at least one value clipped to its column\'s bounds (outOfBounds: clip)', registers: [r] }).set(p.clipped);
    }
    this.#bytes = {
      sent: new Counter({ name: 'blindsum_party_sent_bytes_total', help: 'Bytes of protobuf messages sent to the aggregator', registers: [r] }),
      received: new Counter({ name: 'blindsum_party_received_bytes_total', help: 'Bytes of protobuf messages received from the aggregator', registers: [r] }),
    };
    this.#replies = new Counter({ name: 'blindsum_party_replies_total', help: 'Protocol replies sent, by kind (refusal: a query this party refused)', labelNames: ['kind'], registers: [r] });
  }

  /** A message to or from the aggregator (a ByteCounter: services/common/wire-bytes.ts). */
  readonly bytes = (_method: string, direction: ByteDirection, bytes: number): void => {
    this.#bytes[direction].inc(bytes);
  };

  reply(kind: string): void {
    this.#replies.inc({ kind });
  }
}
