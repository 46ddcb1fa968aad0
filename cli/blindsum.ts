#!/usr/bin/env node
/**
 * blindsum — privacy-preserving federated statistics.
 * Every command has --help. Errors name the cause and the fix; exit code 2 = usage/config error.
 */
import { readFileSync } from 'node:fs';
import { commandHelp, exitCodeFor, parse, USER_ERRORS } from './args.ts';
import { COMMANDS } from './commands/index.ts';

function mainHelp(): string {
  return [
    'blindsum — federated statistics on health data: secure aggregation or multiparty CKKS, differential privacy, audit',
    '',
    'Usage: blindsum COMMAND [options]   (blindsum COMMAND --help for details; blindsum --version)',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(20)} ${c.summary}`),
  ].join('\n');
}

/** The package version (package.json beside cli/). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return `blindsum ${pkg.version} (Node ${process.versions.node})`;
}

async function main(argv: string[]): Promise<number> {
  let [name, ...rest] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(version() + '\n');
    return 0;
  }
  // Two-word commands: blindsum analyst keygen | roster | ckks-keygen
  if (name === 'analyst' && rest[0] !== undefined && !rest[0].startsWith('-')) [name, ...rest] = [`analyst ${rest[0]}`, ...rest.slice(1)];
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp() + '\n');
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd && name.startsWith('analyst')) {
    const subs = COMMANDS.filter((c) => c.name.startsWith('analyst '));
    process.stdout.write(['Usage: blindsum analyst keygen | roster | ckks-keygen [options]   (blindsum analyst SUBCOMMAND --help)', '', ...subs.map((c) => `  ${c.name.padEnd(20)} ${c.summary}`)].join('\n') + '\n');
    if (name !== 'analyst') process.stderr.write(`blindsum: unknown command "${name}"\n`);
    return rest.includes('--help') || rest.includes('-h') ? 0 : 2;
  }
  if (!cmd) {
    process.stderr.write(`blindsum: unknown command "${name}"\n\n${mainHelp()}\n`);
    return 2;
  }
  const parsed = parse(cmd, rest);
  if (parsed === 'help') {
    process.stdout.write(commandHelp(cmd) + '\n');
    return 0;
  }
  return cmd.run(parsed.values, parsed.positionals);
}

// Output piped into a reader that stops early (`blindsum budget | head -1`): exit quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const err = e as Error;
    if (USER_ERRORS.has(err.name)) {
      process.stderr.write(`blindsum: ${err.message}\n`);
      process.exitCode = exitCodeFor(err);
    } else {
      process.stderr.write(`blindsum: unexpected error: ${err.stack ?? String(e)}\n`);
      process.exitCode = 1;
    }
  },
);
