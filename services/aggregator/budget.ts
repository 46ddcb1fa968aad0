/**
 * The aggregator's privacy-budget ledger: one zCDP budget per analyst (its budgetRho in the signed analyst roster), charged before anything
 * is released, in the same SQLite transaction that records the query (so a charge and its query
 * are never separated). Refunds happen only when a query failed before the Unmasking round began
 * (nothing could have been released) and are written as explicit entries with the reason; a crash
 * never refunds. Concurrent submissions are serialized by the transaction, so they cannot overspend.
 */
import type { DatabaseSync } from 'node:sqlite';
import { BlindsumError, ErrorCode } from '../common/errors.ts';

export interface BudgetEntry {
  queryId: string;
  kind: 'charge' | 'refund';
  rho: number;
  atMs: number;
  reason: string;
}

export interface BudgetStatus {
  analyst: string;
  limitRho: number;
  spentRho: number;
  remainingRho: number;
  entries: BudgetEntry[];
}

/** Tolerance of floating-point accumulation when comparing spent + ρ with the limit. */
const EPS = 1e-12;

export class BudgetLedger {
  readonly #db: DatabaseSync;
  readonly #limitOf: (analyst: string) => number;

  /** `limitOf`: each analyst's zCDP budget (from the signed analyst roster; 0 for unknown ids). */
  constructor(db: DatabaseSync, limitOf: (analyst: string) => number) {
    this.#db = db;
    this.#limitOf = limitOf;
    db.exec(`CREATE TABLE IF NOT EXISTS budget_ledger (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, analyst TEXT NOT NULL, query_id TEXT NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('charge','refund')), rho REAL NOT NULL CHECK (rho >= 0),
      at_ms INTEGER NOT NULL, reason TEXT NOT NULL DEFAULT '', UNIQUE (query_id, kind))`);
  }

  spent(analyst: string): number {
    const r = this.#db
      .prepare(`SELECT COALESCE(SUM(CASE kind WHEN 'charge' THEN rho ELSE -rho END), 0) AS s FROM budget_ledger WHERE analyst = ?`)
      .get(analyst) as { s: number };
    return Math.max(0, Number(r.s));
  }

  /** Call inside the store's transaction. Throws RESOURCE_EXHAUSTED with the remaining budget. */
  charge(analyst: string, queryId: string, rho: number, atMs: number): void {
    const spent = this.spent(analyst);
    const limit = this.#limitOf(analyst);
    if (spent + rho > limit * (1 + EPS)) {
      throw new BlindsumError(
        ErrorCode.ResourceExhausted,
        `privacy budget exceeded for analyst "${analyst}": this query costs rho = ${fmt(rho)}, remaining ${fmt(Math.max(0, limit - spent))} of ${fmt(limit)}`,
      );
    }
    this.#db.prepare(`INSERT INTO budget_ledger (analyst, query_id, kind, rho, at_ms) VALUES (?, ?, 'charge', ?, ?)`).run(analyst, queryId, rho, atMs);
  }

  /** Explicit refund of a query's charge (only when nothing was released). Idempotent. */
  refund(queryId: string, reason: string, atMs: number): void {
    const c = this.#db.prepare(`SELECT analyst, rho FROM budget_ledger WHERE query_id = ? AND kind = 'charge'`).get(queryId) as { analyst: string; rho: number } | undefined;
    if (!c) return;
    this.#db
      .prepare(`INSERT OR IGNORE INTO budget_ledger (analyst, query_id, kind, rho, at_ms, reason) VALUES (?, ?, 'refund', ?, ?, ?)`)
      .run(c.analyst, queryId, c.rho, atMs, reason);
  }

  status(analyst: string): BudgetStatus {
    const rows = this.#db.prepare(`SELECT query_id, kind, rho, at_ms, reason FROM budget_ledger WHERE analyst = ? ORDER BY seq`).all(analyst) as {
      query_id: string; kind: 'charge' | 'refund'; rho: number; at_ms: number; reason: string;
    }[];
    const spentRho = this.spent(analyst);
    const limitRho = this.#limitOf(analyst);
    return {
      analyst, limitRho, spentRho, remainingRho: Math.max(0, limitRho - spentRho),
      entries: rows.map((r) => ({ queryId: r.query_id, kind: r.kind, rho: Number(r.rho), atMs: Number(r.at_ms), reason: r.reason })),
    };
  }
}

function fmt(x: number): string {
  return Number(x.toPrecision(6)).toString();
}
