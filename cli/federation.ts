/**
 * A whole federation on this machine, as separate processes on loopback: an aggregator and N
 * party nodes, each started with the real CLI. Used by `blindsum demo` and the end-to-end tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toHex } from '../crypto/bytes.ts';
import { AnalystClient } from '../client/analyst.ts';
import { loadIdentityFile, writeNewIdentityFile, type IdentityFile } from '../services/common/keys.ts';
import { signAnalystRoster, writeAnalystRosterFile } from '../services/common/analysts.ts';
import { AGGREGATOR_KEY_FILE } from '../services/aggregator/transcript-log.ts';

/** Party policy of a local federation: exact queries allowed (to compare with central results). */
export const LOCAL_POLICY = { allowExact: true, budgetRho: 10, maxRhoPerQuery: 10, minCohort: 5 };

export const CLI_PATH = fileURLToPath(new URL('./blindsum.ts', import.meta.url));

export interface LocalFederationOptions {
  dir: string;
  schemaPath: string;
  /** One CSV text per party. */
  partyData: string[];
  threshold?: number;
  /** The roster's collusion bound c (default 0); needs 2t > n + c. */
  collusion?: number;
  roundTimeoutMs?: number;
  /** Extra environment per party index (e.g. test fault injection). */
  partyEnv?: Record<number, Record<string, string>>;
  /**
   * Policy fields per party index, over the local federation's default policy
   * (LOCAL_POLICY: exact queries allowed, zCDP budget 10, at most 10 per query).
   */
  partyPolicy?: Record<number, Record<string, unknown>>;
  /** Each analyst's zCDP budget at the aggregator, in analysts.json (default 10). */
  budgetRho?: number;
  /**
   * Ids of the analysts (role "analyst") in the signed analyst roster, each with its own key
   * (default ["analyst"]); an auditor "auditor" is always added. client(id) signs in as one.
   */
  analysts?: string[];
  /** Allow exact (non-DP) queries at the aggregator (default true: the demo compares with central results). */
  allowExact?: boolean;
  /** The aggregator's --min-cohort (default: the aggregator's default, 10). */
  minCohort?: number;
  federation?: string;
  /** TLS for every connection: the aggregator's certificate and key, and the CA that parties and analysts trust. */
  tls?: {
    certPath: string; keyPath: string; caPath: string;
    /**
     * Mutual TLS: the aggregator requires client certificates signed by `clientCaPath`; each party
     * presents certDir/PARTY_ID.pem (key PARTY_ID.key) and the analyst clients certDir/analyst.pem
     * (blindsum certs --client hospital-1 … --client analyst).
     */
    mutual?: { clientCaPath: string; certDir: string };
  };
  /** Enable the multiparty CKKS backend: aggregator --ckks, parties allow backend "ckks" (key ceremony at start). */
  ckks?: boolean;
  /**
   * The aggregator's per-analyst quotas (--max-running-per-analyst, --max-submits-per-minute).
   * Default here 8 and 600: tests run batches of concurrent queries as one analyst; a real
   * aggregator defaults to 4 and 30.
   */
  analystQuotas?: { maxRunningPerAnalyst: number; maxSubmitsPerMinute: number };
  /** More aggregator flags (e.g. --metrics-listen 127.0.0.1:9464). */
  aggregatorArgs?: string[];
  /** More flags per party index. */
  partyArgs?: Record<number, string[]>;
  /**
   * Data source flags per party index instead of `--data PARTY.csv` (e.g. `--source postgres://…
   * --query-file q.sql`, or `--data x.parquet`); that party's partyData entry is then not written.
   */
  partySource?: Record<number, string[]>;
  /** How long start() waits for every party to connect (default max(90 s, 6 s × n): generous, so a loaded test machine does not fail a start that is only slow); on failure it stops what it started. */
  connectTimeoutMs?: number;
}

export interface PartyProcess {
  id: string;
  index: number;
  child: ChildProcess | undefined;
  args: string[];
}

/** The port from "listening on port N" and, when `web`, the console URL from "web console at URL" (printed next). */
function waitForPort(child: ChildProcess, what: string, timeoutMs = 90_000, web = false): Promise<{ port: number; webUrl?: string }> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /listening on port (\d+)/.exec(buf);
      const w = /web console at (\S+)\n/.exec(buf);
      if (m && (!web || w)) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), ...(w ? { webUrl: w[1]! } : {}) });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with code ${code} before listening`));
    });
  });
}

export class LocalFederation {
  readonly dir: string;
  readonly parties: PartyProcess[] = [];
  readonly #opts: LocalFederationOptions;
  #aggregator: ChildProcess | undefined;
  #aggregatorArgs: string[] = [];
  #port = 0;
  #webUrl: string | undefined;
  readonly #identities = new Map<string, IdentityFile>();

  private constructor(opts: LocalFederationOptions) {
    this.#opts = opts;
    this.dir = opts.dir;
  }

  get address(): string {
    return `${this.#opts.tls ? 'localhost' : '127.0.0.1'}:${this.#port}`;
  }

  /** The web console's URL when the aggregator was started with --web-listen (aggregatorArgs). */
  get webUrl(): string | undefined {
    return this.#webUrl;
  }

  /** The aggregator process's pid (undefined before start; e.g. to read its /proc status in benches). */
  get aggregatorPid(): number | undefined {
    return this.#aggregator?.pid;
  }

  get rosterPath(): string {
    return join(this.dir, 'roster.json');
  }

  /** The operator-signed analyst roster given to the aggregator (--analysts). */
  get analystsPath(): string {
    return join(this.dir, 'analysts.json');
  }

  /** The operator's key (signs analysts.json; named in roster.json). */
  get operatorKeyPath(): string {
    return join(this.dir, 'operator.key');
  }

  /** An analyst's Ed25519 key file (blindsum analyst keygen format). */
  analystKeyPath(id: string): string {
    return join(this.dir, 'analysts', `${id}.key`);
  }

  /** The analysts of the roster with role "analyst" (the first is client()'s default). */
  get analysts(): string[] {
    return this.#opts.analysts ?? ['analyst'];
  }

  /** The aggregator's --data-dir (SQLite stores, transcript, aggregator.key). */
  get aggregatorDataDir(): string {
    return join(this.dir, 'aggregator');
  }

  /** A party's state directory (its budget ledger and CKKS key share): the CLI default, DIR_OF_KEY/ID-state. */
  partyStateDir(index: number): string {
    return join(this.dir, `${this.parties[index]!.id}-state`);
  }

  /** Waits until the CKKS key ceremony has produced the collective key; returns its SHA-256. */
  async waitCollectiveKey(timeoutMs = 120_000): Promise<string> {
    const client = this.client();
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        let status: string;
        try {
          const k = await client.getCollectiveKey();
          if (k.status === 'ready') return k.publicKeySha256;
          status = `${k.status}: ${k.message}`;
        } catch (e) {
          status = `GetCollectiveKey failed: ${(e as Error).message}`; // a busy aggregator (the ceremony at large n): ask again
        }
        if (Date.now() > deadline) throw new Error(`no collective CKKS key within ${timeoutMs} ms (${status}); see logs in ${this.dir}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      client.close();
    }
  }

  /** Where the parties keep the aggregator's signed transcript receipts (one file per party). */
  get receiptsDir(): string {
    return join(this.dir, 'receipts');
  }

  /** Writes keys, roster, per-party data and policies; starts the aggregator and every party. */
  static async start(opts: LocalFederationOptions): Promise<LocalFederation> {
    const f = new LocalFederation(opts);
    mkdirSync(opts.dir, { recursive: true });
    const n = opts.partyData.length;
    const entries: { id: string; publicKey: string }[] = [];
    for (let i = 0; i < n; i++) {
      const id = `hospital-${i + 1}`;
      const keyPath = join(opts.dir, `${id}.key`);
      const { identity } = writeNewIdentityFile(keyPath, id);
      entries.push({ id, publicKey: toHex(identity.publicKey) });
      const dataPath = join(opts.dir, `${id}.csv`);
      const source = opts.partySource?.[i];
      if (!source) writeFileSync(dataPath, opts.partyData[i]!);
      const args = [CLI_PATH, 'party', '--aggregator', 'PLACEHOLDER', '--key', keyPath, '--roster', f.rosterPath, '--schema', opts.schemaPath, ...(source ?? ['--data', dataPath])];
      if (opts.tls) args.push('--tls-ca', opts.tls.caPath);
      if (opts.tls?.mutual) args.push('--tls-cert', join(opts.tls.mutual.certDir, `${id}.pem`), '--tls-key', join(opts.tls.mutual.certDir, `${id}.key`));
      const policyPath = join(opts.dir, `${id}.policy.json`);
      writeFileSync(policyPath, JSON.stringify({ ...LOCAL_POLICY, ...(opts.ckks ? { allowedBackends: ['secagg', 'ckks'] } : {}), ...(opts.partyPolicy?.[i] ?? {}) }));
      args.push('--policy', policyPath, ...(opts.partyArgs?.[i] ?? []));
      f.parties.push({ id, index: i, child: undefined, args });
    }
    const collusion = opts.collusion ?? 0;
    const threshold = opts.threshold ?? Math.floor((n + collusion) / 2) + 1;
    const federation = opts.federation ?? 'demo';
    // The aggregator's identity (signs transcript heads and receipts) and the operator's (signs the
    // analyst roster) are listed in the roster.
    mkdirSync(f.aggregatorDataDir, { recursive: true, mode: 0o700 });
    const aggregator = writeNewIdentityFile(join(f.aggregatorDataDir, AGGREGATOR_KEY_FILE), `${federation}-aggregator`);
    const operator = writeNewIdentityFile(f.operatorKeyPath, `${federation}-operator`);
    writeFileSync(f.rosterPath, JSON.stringify({
      federation, threshold, collusion, parties: entries, aggregator: { id: aggregator.id, publicKey: toHex(aggregator.identity.publicKey) },
      operator: { id: operator.id, publicKey: toHex(operator.identity.publicKey) },
    }, null, 2));
    // One key per analyst and an auditor, in an analyst roster signed by the operator (blindsum analyst keygen / roster).
    mkdirSync(join(opts.dir, 'analysts'), { recursive: true, mode: 0o700 });
    const analysts = [...f.analysts.map((id) => ({ id, role: 'analyst' as const, budgetRho: opts.budgetRho ?? 10 })), { id: 'auditor', role: 'auditor' as const, budgetRho: 0 }];
    const listed = analysts.map((a) => {
      const key = writeNewIdentityFile(f.analystKeyPath(a.id), a.id);
      f.#identities.set(a.id, key);
      return { ...a, publicKey: toHex(key.identity.publicKey) };
    });
    writeAnalystRosterFile(f.analystsPath, signAnalystRoster(operator.identity.secretKey, { federation, version: 1, analysts: listed }));
    f.#aggregatorArgs = [
      CLI_PATH, 'aggregator', '--listen', '127.0.0.1:0', '--roster', f.rosterPath, '--analysts', f.analystsPath, '--schema', opts.schemaPath,
      '--data-dir', f.aggregatorDataDir, '--round-timeout-ms', String(opts.roundTimeoutMs ?? 30_000),
      ...(opts.allowExact === false ? [] : ['--allow-exact']), ...(opts.minCohort !== undefined ? ['--min-cohort', String(opts.minCohort)] : []),
      ...(opts.tls ? ['--tls-cert', opts.tls.certPath, '--tls-key', opts.tls.keyPath] : []), ...(opts.tls?.mutual ? ['--tls-client-ca', opts.tls.mutual.clientCaPath] : []), ...(opts.ckks ? ['--ckks'] : []),
      '--max-running-per-analyst', String(opts.analystQuotas?.maxRunningPerAnalyst ?? 8), '--max-submits-per-minute', String(opts.analystQuotas?.maxSubmitsPerMinute ?? 600),
      ...(opts.aggregatorArgs ?? []),
    ];
    try {
      await f.startAggregator();
      for (const p of f.parties) f.startParty(p.index);
      // Each process loads the CLI, its data and node-seal on this host's cores: allow for n of them.
      await f.waitConnected(f.parties.map((p) => p.id), opts.connectTimeoutMs ?? Math.max(90_000, 6_000 * n));
    } catch (e) {
      await f.stop();
      throw e;
    }
    return f;
  }

  #spawn(args: string[], logName: string, env: Record<string, string> = {}): ChildProcess {
    const log = createWriteStream(join(this.dir, logName), { flags: 'a' });
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    child.stderr!.pipe(log);
    return child;
  }

  /** Starts (or restarts, on the same port) the aggregator; `env` adds environment variables (test hooks). */
  async startAggregator(env: Record<string, string> = {}): Promise<void> {
    const args = [...this.#aggregatorArgs];
    if (this.#port !== 0) args[args.indexOf('127.0.0.1:0')] = `127.0.0.1:${this.#port}`;
    this.#aggregator = this.#spawn(args, 'aggregator.log', env);
    const started = await waitForPort(this.#aggregator, 'aggregator', 30_000, args.includes('--web-listen'));
    this.#port = started.port;
    this.#webUrl = started.webUrl;
  }

  startParty(index: number, env?: Record<string, string>): void {
    const p = this.parties[index]!;
    const args = [...p.args];
    args[args.indexOf('--aggregator') + 1] = this.address;
    p.child = this.#spawn(args, `${p.id}.log`, env ?? this.#opts.partyEnv?.[index] ?? {});
  }

  /** Kills a party process (SIGKILL by default) and waits for it to exit. */
  async killParty(index: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.parties[index]!.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill(signal);
    await exited;
  }

  async killAggregator(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.#aggregator;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill(signal);
    await exited;
  }

  /** Resolves when the exit code of a party is known (e.g. after test fault injection). */
  partyExit(index: number): Promise<number | null> {
    const c = this.parties[index]!.child!;
    if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve(c.exitCode);
    return new Promise((resolve) => c.once('exit', (code) => resolve(code)));
  }

  /** An analyst client signed in as `analyst` (default: the first analyst; "auditor" for the auditor). */
  client(analyst: string = this.analysts[0]!): AnalystClient {
    let identity = this.#identities.get(analyst);
    if (!identity) {
      identity = loadIdentityFile(this.analystKeyPath(analyst));
      this.#identities.set(analyst, identity);
    }
    return new AnalystClient(this.address, { identity, ...this.tlsClientOptions() });
  }

  /** The TLS options of an analyst client of this federation (none without TLS; a client certificate under mutual TLS). */
  tlsClientOptions(): { tlsCaPath?: string; tlsCertPath?: string; tlsKeyPath?: string } {
    const tls = this.#opts.tls;
    if (!tls) return {};
    if (!tls.mutual) return { tlsCaPath: tls.caPath };
    return { tlsCaPath: tls.caPath, tlsCertPath: join(tls.mutual.certDir, 'analyst.pem'), tlsKeyPath: join(tls.mutual.certDir, 'analyst.key') };
  }

  /** The analyst's identity (id and keys) of `analyst`. */
  identity(analyst: string = this.analysts[0]!): IdentityFile {
    const c = this.#identities.get(analyst);
    if (!c) throw new Error(`no analyst "${analyst}" in this local federation (analysts: ${this.analysts.join(', ')}, auditor)`);
    return c;
  }

  async waitConnected(ids: string[], timeoutMs = 90_000): Promise<void> {
    const client = this.client();
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        try {
          const r = await client.listParties();
          const connected = new Set(r.parties.filter((p) => p.connected).map((p) => p.partyId));
          if (ids.every((id) => connected.has(id))) return;
        } catch {
          /* aggregator not up yet */
        }
        if (Date.now() > deadline) throw new Error(`parties ${ids.join(', ')} did not all connect within ${timeoutMs} ms; see logs in ${this.dir}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      client.close();
    }
  }

  logTail(name: string, lines = 20): string {
    try {
      return readFileSync(join(this.dir, name), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    const all = [this.#aggregator, ...this.parties.map((p) => p.child)].filter((c): c is ChildProcess => c !== undefined && c.exitCode === null && c.signalCode === null);
    await Promise.all(
      all.map(
        (c) =>
          new Promise<void>((resolve) => {
            const t = setTimeout(() => c.kill('SIGKILL'), 5000);
            c.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
  }
}
