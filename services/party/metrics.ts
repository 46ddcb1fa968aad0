/**
 * A party node's Prometheus metrics (`blindsum party … --metrics-listen HOST:PORT`;
 * services/common/metrics-server.ts serves them): whether it is connected, its own privacy ledger
 * (spent and limit), the replies it sent by kind (advertiseKeys, maskedInput, refusal, …: refusals
 * and contributions at a glance), and the process's own metrics.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

export interface PartyMetricsSources {
  connected(): boolean;
  spentRho(): number;
  limitRho: number;
}

export class PartyMetrics {
  readonly registry = new Registry();
  readonly #replies: Counter<'kind'>;

  constructor(src: PartyMetricsSources) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'blindsum_party_' });
    new Gauge({ name: 'blindsum_party_connected', help: '1 while connected to and admitted by the aggregator', registers: [r], collect() { this.set(src.connected() ? 1 : 0); } });
    new Gauge({ name: 'blindsum_party_budget_spent_rho', help: 'zCDP rho this party has released (its own ledger)', registers: [r], collect() { this.set(src.spentRho()); } });
    new Gauge({ name: 'blindsum_party_budget_limit_rho', help: 'The party policy\'s zCDP budget', registers: [r], collect() { this.set(src.limitRho); } });
    this.#replies = new Counter({ name: 'blindsum_party_replies_total', help: 'Protocol replies sent, by kind (refusal: a query this party refused)', labelNames: ['kind'], registers: [r] });
  }

  reply(kind: string): void {
    this.#replies.inc({ kind });
  }
}
