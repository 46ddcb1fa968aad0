/**
 * A party's own privacy-budget ledger (SQLite in its state directory, synchronous=FULL). The
 * party charges a query before its noisy contribution leaves (before MaskedInputCollection),
 * whatever the aggregator's ledger says; it never refunds, because it cannot know whether the
 * aggregate was revealed.
 *
 * Session ids are single-use: the party records every session it accepts, durably, before it
 * computes anything, and refuses an id it has seen before — even after a restart. An aggregator
 * that replays one query under the same id (to average the noise away) gets one answer; under a
 * new id, every answer is charged again.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

const EPS = 1e-12;

export class PartyLedger {
  readonly #db: DatabaseSync;
  readonly limitRho: number;

  constructor(stateDir: string, limitRho: number) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.#db = new DatabaseSync(join(stateDir, 'party-ledger.sqlite'));
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;');
    this.#db.exec(`CREATE TABLE IF NOT EXISTS charges (query_id TEXT PRIMARY KEY, analyst TEXT NOT NULL, rho REAL NOT NULL, at_ms INTEGER NOT NULL)`);
    this.#db.exec(`CREATE TABLE IF NOT EXISTS sessions (session_id TEXT PRIMARY KEY, backend TEXT NOT NULL, at_ms INTEGER NOT NULL)`);
    this.limitRho = limitRho;
  }

  spent(): number {
    return Number((this.#db.prepare('SELECT COALESCE(SUM(rho), 0) AS s FROM charges').get() as { s: number }).s);
  }

  /** ρ this party has released to one analyst's queries. */
  spentBy(analyst: string): number {
    return Number((this.#db.prepare('SELECT COALESCE(SUM(rho), 0) AS s FROM charges WHERE analyst = ?').get(analyst) as { s: number }).s);
  }

  /**
   * Why this query cannot be afforded, or undefined when it can: this party's own budget, and — when
   * given — the analyst's budget from the operator-signed analyst roster, counted over what this
   * party released to that analyst (the aggregator is not trusted to enforce it).
   */
  check(rho: number, analyst?: { id: string; budgetRho: number }): string | undefined {
    const spent = this.spent();
    if (spent + rho > this.limitRho * (1 + EPS)) {
      return `this party's privacy budget would be exceeded: query rho = ${fmt(rho)}, remaining ${fmt(Math.max(0, this.limitRho - spent))} of ${fmt(this.limitRho)}`;
    }
    if (analyst) {
      const by = this.spentBy(analyst.id);
      if (by + rho > analyst.budgetRho * (1 + EPS)) {
        return `analyst "${analyst.id}"'s budget in the operator-signed analyst roster would be exceeded at this party: query rho = ${fmt(rho)}, remaining ${fmt(Math.max(0, analyst.budgetRho - by))} of ${fmt(analyst.budgetRho)}`;
      }
    }
    return undefined;
  }

  /**
   * Records a session id as answered (durable before anything is computed); false when this party
   * has already accepted a session with that id, whatever became of it.
   */
  claimSession(sessionId: string, backend: string): boolean {
    const r = this.#db.prepare('INSERT OR IGNORE INTO sessions (session_id, backend, at_ms) VALUES (?, ?, ?)').run(sessionId, backend, Date.now());
    return Number(r.changes) === 1;
  }

  /** Durable; one charge per session id; throws with the reason when the budget is exhausted or the id was charged. */
  charge(queryId: string, analyst: string, rho: number, analystBudgetRho?: number): void {
    if (this.#db.prepare('SELECT 1 FROM charges WHERE query_id = ?').get(queryId)) throw new Error(`session ${queryId.slice(0, 40)} was already charged at this party: a session id is answered once`);
    const why = this.check(rho, analystBudgetRho === undefined ? undefined : { id: analyst, budgetRho: analystBudgetRho });
    if (why) throw new Error(why);
    this.#db.prepare('INSERT INTO charges (query_id, analyst, rho, at_ms) VALUES (?, ?, ?, ?)').run(queryId, analyst, rho, Date.now());
  }

  entries(): { queryId: string; analyst: string; rho: number; atMs: number }[] {
    return (this.#db.prepare('SELECT query_id, analyst, rho, at_ms FROM charges ORDER BY at_ms').all() as { query_id: string; analyst: string; rho: number; at_ms: number }[]).map(
      (r) => ({ queryId: r.query_id, analyst: r.analyst, rho: Number(r.rho), atMs: Number(r.at_ms) }),
    );
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  // --- The highest analyst-roster version seen (services/party/analyst-check.ts) ---

  /** Highest analyst-roster version this party has accepted for `federation` (0 = none yet). */
  analystRosterVersion(federation: string): number {
    this.#analystRosterTable();
    const r = this.#db.prepare('SELECT version FROM analyst_roster_version WHERE federation = ?').get(federation) as { version: number } | undefined;
    return r ? Number(r.version) : 0;
  }

  /** Durably raises the highest seen version (never lowers it). */
  noteAnalystRosterVersion(federation: string, version: number): void {
    this.#analystRosterTable();
    this.#db
      .prepare('INSERT INTO analyst_roster_version (federation, version) VALUES (?, ?) ON CONFLICT (federation) DO UPDATE SET version = MAX(version, excluded.version)')
      .run(federation, version);
  }

  #analystRosterTable(): void {
    this.#db.exec('CREATE TABLE IF NOT EXISTS analyst_roster_version (federation TEXT PRIMARY KEY, version INTEGER NOT NULL)');
  }
}

function fmt(x: number): string {
  return Number(x.toPrecision(6)).toString();
}
