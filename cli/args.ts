/** Small helpers around node:util parseArgs shared by every command. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AnalystClient } from '../client/analyst.ts';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: Options;
  /** Help text for each option, keyed by option name. */
  help: Record<string, string>;
  allowPositionals?: boolean;
  run(values: Record<string, string | boolean | string[] | boolean[] | undefined>, positionals: string[]): Promise<number>;
}

export function commandHelp(c: Command): string {
  const lines = [`blindsum ${c.name} — ${c.summary}`, '', `Usage: ${c.usage}`, '', 'Options:'];
  for (const [name, spec] of Object.entries(c.options)) {
    const flag = `--${name}${spec.type === 'string' ? ' VALUE' : ''}${spec.short ? `, -${spec.short}` : ''}`;
    lines.push(`  ${flag.padEnd(28)} ${c.help[name] ?? ''}${spec.multiple ? ' (repeatable)' : ''}`);
  }
  lines.push(`  ${'--help, -h'.padEnd(28)} show this help`);
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

/** The analyst client for --aggregator (default 127.0.0.1:7070) and --tls-ca. */
export function analystClient(v: Record<string, unknown>): AnalystClient {
  return new AnalystClient(str(v['aggregator'], 'aggregator') ?? '127.0.0.1:7070', str(v['tls-ca'], 'tls-ca'));
}

export function int(v: unknown, name: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name}: expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return n;
}
