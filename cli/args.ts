/** Small helpers around node:util parseArgs shared by every command. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AnalystClient, NO_ANALYST_KEY } from '../client/analyst.ts';
import { loadIdentityFile } from '../services/common/keys.ts';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Errors whose message is written for the user (printed as one sentence, no stack). */
export const USER_ERRORS: ReadonlySet<string> = new Set(['UsageError', 'ConfigError', 'SchemaError', 'QueryError', 'DatasetError', 'CsvError', 'AnalystError', 'TranscriptFormatError', 'SynthModelError', 'MeasurementError', 'ReleaseCheckError', 'DirLockError', 'ListenError', 'ModelError', 'JobError', 'SourceError']);

/** The exit code of an error: 2 = usage or configuration, 1 = a failed operation or an unexpected error. */
export function exitCodeFor(err: Error): number {
  if (!USER_ERRORS.has(err.name)) return 1;
  return err instanceof UsageError || (err.name !== 'AnalystError' && err.name !== 'MeasurementError' && err.name !== 'ReleaseCheckError') ? 2 : 1;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: Options;
  /** Help text for each option, keyed by option name. */
  help: Record<string, string>;
  allowPositionals?: boolean;
  /** Lines printed after the options in --help (e.g. exit codes). */
  notes?: string[];
  run(values: Record<string, string | boolean | string[] | boolean[] | undefined>, positionals: string[]): Promise<number>;
}

export function commandHelp(c: Command): string {
  const lines = [`blindsum ${c.name} — ${c.summary}`, '', `Usage: ${c.usage}`, '', 'Options:'];
  for (const [name, spec] of Object.entries(c.options)) {
    const flag = `--${name}${spec.type === 'string' ? ' VALUE' : ''}${spec.short ? `, -${spec.short}` : ''}`;
    lines.push(`  ${flag.padEnd(28)} ${c.help[name] ?? ''}${spec.multiple ? ' (repeatable)' : ''}`);
  }
  lines.push(`  ${'--help, -h'.padEnd(28)} show this help`);
  if (c.notes) lines.push('', ...c.notes);
  return lines.join('\n');
}

export function parse(c: Command, argv: string[]): { values: Record<string, string | boolean | string[] | boolean[] | undefined>; positionals: string[] } | 'help' {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...c.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: c.allowPositionals ?? false, strict: true });
    if (values['help']) return 'help';
    return { values: values as Record<string, string | boolean | string[] | boolean[] | undefined>, positionals };
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\nRun: blindsum ${c.name} --help`);
  }
}

export function str(v: unknown, name: string, required: true): string;
export function str(v: unknown, name: string, required?: false): string | undefined;
export function str(v: unknown, name: string, required = false): string | undefined {
  if (v === undefined) {
    if (required) throw new UsageError(`--${name} is required`);
    return undefined;
  }
  return String(v);
}

/** Environment variable naming the analyst's key file when --analyst-key is not given. */
export const ANALYST_KEY_ENV = 'BLINDSUM_ANALYST_KEY';

/** The --analyst-key option and its help, shared by the commands that query or read results. */
export const ANALYST_KEY_OPTION = { 'analyst-key': { type: 'string' } } as const satisfies Options;
export const ANALYST_KEY_HELP = `the analyst's Ed25519 key file (blindsum analyst keygen; default: $${ANALYST_KEY_ENV}); requests and reads are signed with it`;

/** The TLS options of every command that connects to the aggregator, and their help. */
export const TLS_CLIENT_OPTIONS = { 'tls-ca': { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' } } as const satisfies Options;
export const TLS_CLIENT_HELP: Record<keyof typeof TLS_CLIENT_OPTIONS, string> = {
  'tls-ca': 'PEM CA certificate of the aggregator\'s TLS certificate (without it: plaintext, loopback only)',
  'tls-cert': 'mutual TLS: this client\'s PEM certificate (blindsum certs --client NAME), for an aggregator started with --tls-client-ca; with --tls-key and --tls-ca',
  'tls-key': 'mutual TLS: the PEM private key of --tls-cert',
};

/** The client's TLS files from --tls-ca, --tls-cert and --tls-key. */
export function tlsClientFiles(v: Record<string, unknown>): { tlsCaPath?: string; tlsCertPath?: string; tlsKeyPath?: string } {
  const ca = str(v['tls-ca'], 'tls-ca');
  const cert = str(v['tls-cert'], 'tls-cert');
  const key = str(v['tls-key'], 'tls-key');
  return { ...(ca !== undefined ? { tlsCaPath: ca } : {}), ...(cert !== undefined ? { tlsCertPath: cert } : {}), ...(key !== undefined ? { tlsKeyPath: key } : {}) };
}

/**
 * The analyst client for --aggregator (default 127.0.0.1:7070) and --tls-ca (--tls-cert and
 * --tls-key for mutual TLS), signed in with --analyst-key FILE or $BLINDSUM_ANALYST_KEY
 * (`signedIn` false: public calls only).
 */
export function analystClient(v: Record<string, unknown>, signedIn = true): AnalystClient {
  const address = str(v['aggregator'], 'aggregator') ?? '127.0.0.1:7070';
  const tls = tlsClientFiles(v);
  if (!signedIn) return new AnalystClient(address, tls);
  const keyPath = str(v['analyst-key'], 'analyst-key') ?? (process.env[ANALYST_KEY_ENV] || undefined);
  if (keyPath === undefined) throw new UsageError(NO_ANALYST_KEY);
  return new AnalystClient(address, { identity: loadIdentityFile(keyPath), ...tls });
}

export function int(v: unknown, name: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name}: expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return n;
}
