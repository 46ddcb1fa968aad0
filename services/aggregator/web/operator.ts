/**
 * The web console's operator status (`GET /operator/status`, only with --web-operator): parties
 * connected, the roster and analyst roster (ids, roles, key fingerprints, budgets), the CKKS key
 * ceremony's state, recent failures and refusals, and a metrics summary. A signed read (method
 * "OperatorStatus", empty request bytes) by an analyst-roster entry with role "auditor": the role
 * that already reads every query and budget (docs/web.md, "Operator page"). It holds no secret:
 * public keys appear as fingerprints, results and query specs do not appear at all.
 */
import { keyFingerprint } from '../../common/analysts.ts';
import { permissionDenied } from '../../common/errors.ts';
import type { AggregatorConfig } from '../config.ts';
import type { AnalystHandlers, ReadAuth } from '../analyst-service.ts';
import type { AggregatorStore } from '../store.ts';
import type { PartyGateway } from '../gateway.ts';
import type { AggregatorMetrics } from '../metrics.ts';
import type { CkksBackend } from '../ckks/backend.ts';
import type { BudgetLedger } from '../budget.ts';

export const OPERATOR_STATUS_PATH = '/operator/status';
/** The method name signed into an operator-status read. */
export const OPERATOR_STATUS_METHOD = 'OperatorStatus';
const RECENT = 50;

export interface OperatorDeps {
  config: AggregatorConfig;
  handlers: AnalystHandlers;
  store: AggregatorStore;
  gateway: PartyGateway;
  metrics: AggregatorMetrics;
  budget: BudgetLedger;
  ckks?: CkksBackend;
}

/** The status, or a typed refusal (UNAUTHENTICATED / PERMISSION_DENIED) mapped by the caller. */
export async function operatorStatus(d: OperatorDeps, auth: ReadAuth): Promise<unknown> {
  const who = d.handlers.verifyRead(OPERATOR_STATUS_METHOD, auth, new Uint8Array(0));
  if (who.role !== 'auditor') throw permissionDenied(`the operator status is for analyst-roster entries with role "auditor"; ${JSON.stringify(who.id)} has role "${who.role}"`);
  const { config } = d;
  const connected = new Set(d.gateway.connectedIds());
  const key = d.ckks?.collectiveKey();
  const recent = d.store.recentQueries(RECENT);
  const metrics = (await d.metrics.registry.getMetricsAsJSON())
    .filter((m) => m.name.startsWith('blindsum_') || m.name === 'process_start_time_seconds' || m.name === 'process_resident_memory_bytes')
    .map((m) => ({
      name: m.name, help: m.help, type: String(m.type),
      values: m.values.filter((v) => !('le' in (v.labels ?? {}))).map((v) => ({ labels: v.labels ?? {}, value: v.value, ...('metricName' in v && v.metricName ? { metric: v.metricName } : {}) })),
    }));
  return {
    federation: config.roster.federation, nowMs: Date.now(), reader: who.id,
    roster: {
      threshold: config.roster.threshold, collusion: config.roster.collusion,
      aggregator: { id: config.roster.aggregator.id, fingerprint: keyFingerprint(config.roster.aggregator.publicKey) },
      ...(config.roster.operator ? { operator: { id: config.roster.operator.id, fingerprint: keyFingerprint(config.roster.operator.publicKey) } } : {}),
      parties: config.roster.parties.map((p) => ({ id: p.id, fingerprint: keyFingerprint(p.publicKey), connected: connected.has(p.id), lastSeenMs: d.gateway.lastSeenMs(p.id) })),
    },
    analysts: {
      version: config.analysts.version,
      entries: [...config.analysts.analysts.values()].map((a) => ({ id: a.id, role: a.role, fingerprint: keyFingerprint(a.publicKey), budgetRho: a.budgetRho, spentRho: d.budget.status(a.id).spentRho })),
    },
    ceremony: key
      ? { status: key.status, message: key.message, ceremonyId: key.ceremonyId, params: key.params, publicKeySha256: key.publicKeySha256, rosterDigest: key.rosterDigest, threshold: key.threshold, parties: key.parties, createdAtMs: Number(key.createdAtMs) }
      : { status: 'disabled', message: 'this aggregator runs without the CKKS backend (--ckks)' },
    queries: {
      recent: recent.map((q) => ({ id: q.id, analyst: q.analyst, backend: q.backend, kind: q.kind, status: q.status, submittedAtMs: q.submittedAtMs, finishedAtMs: q.finishedAtMs })),
      failures: recent.filter((q) => q.status === 'failed').map((q) => ({ id: q.id, analyst: q.analyst, kind: q.kind, error: q.error, finishedAtMs: q.finishedAtMs })),
      refusals: recent.flatMap((q) => q.refusals.map((r) => ({ queryId: q.id, partyId: r.partyId, reason: r.reason }))),
    },
    settings: { allowExact: config.allowExact, minCohort: config.minCohort, ckks: config.ckks, ringBits: config.ringBits, roundTimeoutMs: config.roundTimeoutMs, quotas: config.quotas },
    metrics,
  };
}
