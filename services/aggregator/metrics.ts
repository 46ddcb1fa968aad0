/**
 * The aggregator's Prometheus metrics (services/common/metrics-server.ts serves them): connected
 * parties, queries by kind, backend and status, query and round latencies (histograms), the budget
 * each analyst has spent, the decryptions of the current CKKS key, and the process's own metrics.
 * Round latency: the time from one progress event of a query to the next, labelled by the stage
 * reached (advertiseKeys, maskedInput, … as WatchQuery names them). Bytes: the protobuf messages
 * received and sent per gRPC method (services/common/wire-bytes.ts: Connect is the party gateway,
 * the others the analyst API; gRPC framing, HTTP/2 and TLS overhead not included).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ByteDirection } from '../common/wire-bytes.ts';

export interface AggregatorMetricsSources {
  connectedParties(): number;
  rosterParties: number;
  analysts(): string[];
  spentRho(analyst: string): number;
  /** The current CKKS key's id and decryptions so far (undefined: no CKKS or no key yet). */
  ckksDecryptions?(): { key: string; count: number } | undefined;
}

export class AggregatorMetrics {
  readonly registry = new Registry();
  readonly #queries: Counter<'kind' | 'backend' | 'status'>;
  readonly #queryTime: Histogram<'backend'>;
  readonly #roundTime: Histogram<'stage'>;
  readonly #bytes: Record<ByteDirection, Counter<'method'>>;
  readonly #webBytes: Record<ByteDirection, Counter<'method'>>;
  readonly #open = new Map<string, { kind: string; backend: string; startMs: number; lastMs: number }>();

  constructor(src: AggregatorMetricsSources) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'blindsum_' });
    new Gauge({ name: 'blindsum_connected_parties', help: 'Roster parties connected and authenticated now', registers: [r], collect() { this.set(src.connectedParties()); } });
    new Gauge({ name: 'blindsum_roster_parties', help: 'Parties in the roster', registers: [r], collect() { this.set(src.rosterParties); } });
    new Gauge({
      name: 'blindsum_budget_spent_rho', help: 'zCDP rho each analyst has spent (charges minus refunds)', labelNames: ['analyst'], registers: [r],
      collect() { for (const a of src.analysts()) this.set({ analyst: a }, src.spentRho(a)); },
    });
    new Gauge({
      name: 'blindsum_ckks_decryptions', help: 'Ciphertexts decrypted under the current collective CKKS key', labelNames: ['key'], registers: [r],
      collect() { const d = src.ckksDecryptions?.(); this.reset(); if (d) this.set({ key: d.key }, d.count); },
    });
    const open = this.#open;
    new Gauge({ name: 'blindsum_queries_running', help: 'Queries running now', registers: [r], collect() { this.set(open.size); } });
    this.#queries = new Counter({ name: 'blindsum_queries_total', help: 'Queries finished, by kind, backend and status (done, failed)', labelNames: ['kind', 'backend', 'status'], registers: [r] });
    this.#queryTime = new Histogram({ name: 'blindsum_query_seconds', help: 'Submission to release or failure', labelNames: ['backend'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300], registers: [r] });
    this.#bytes = {
      received: new Counter({ name: 'blindsum_grpc_received_bytes_total', help: 'Bytes of protobuf messages received, by gRPC method (Connect: from parties; the others: from analysts)', labelNames: ['method'], registers: [r] }),
      sent: new Counter({ name: 'blindsum_grpc_sent_bytes_total', help: 'Bytes of protobuf messages sent, by gRPC method (Connect: to parties; the others: to analysts)', labelNames: ['method'], registers: [r] }),
    };
    this.#webBytes = {
      received: new Counter({ name: 'blindsum_web_received_bytes_total', help: 'Bytes of JSON request bodies received by the web console\'s Connect endpoint, by AnalystService method (not counted in blindsum_grpc_*)', labelNames: ['method'], registers: [r] }),
      sent: new Counter({ name: 'blindsum_web_sent_bytes_total', help: 'Bytes of JSON responses (stream envelopes included) sent by the web console\'s Connect endpoint, by AnalystService method', labelNames: ['method'], registers: [r] }),
    };
    this.#roundTime = new Histogram({ name: 'blindsum_round_seconds', help: 'Time from one progress event of a query to the next, by the stage reached', labelNames: ['stage'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [r] });
  }

  /** A message of `bytes` received or sent by gRPC method `method` (a ByteCounter: services/common/wire-bytes.ts). */
  readonly bytes = (method: string, direction: ByteDirection, bytes: number): void => {
    this.#bytes[direction].inc({ method }, bytes);
  };

  /** A Connect (web console) request or response body of `bytes`, by AnalystService method (a ByteCounter). */
  readonly webBytes = (method: string, direction: ByteDirection, bytes: number): void => {
    this.#webBytes[direction].inc({ method }, bytes);
  };

  submitted(queryId: string, kind: string, backend: string, atMs: number): void {
    this.#open.set(queryId, { kind, backend, startMs: atMs, lastMs: atMs });
  }

  /** A progress event of a query (final: its release or failure). */
  event(queryId: string, stage: string, final: boolean, atMs: number): void {
    const q = this.#open.get(queryId);
    if (!q) return;
    this.#roundTime.observe({ stage }, Math.max(0, atMs - q.lastMs) / 1000);
    q.lastMs = atMs;
    if (!final) return;
    this.#queries.inc({ kind: q.kind, backend: q.backend, status: stage === 'done' ? 'done' : 'failed' });
    this.#queryTime.observe({ backend: q.backend }, Math.max(0, atMs - q.startMs) / 1000);
    this.#open.delete(queryId);
  }
}
