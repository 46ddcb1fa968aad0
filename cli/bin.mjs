#!/usr/bin/env node
// The `blindsum` command (package.json "bin"): runs cli/blindsum.ts on the Node 24 runtime this
// package depends on (the npm package "node"), whatever Node started this file — so `npx blindsum`,
// `npm link` and an installed bin work from any directory even where the system Node is older.
// Plain JavaScript on purpose: it must run on Node 18+ before any TypeScript can.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
let runtime = process.execPath;
if (Number(process.versions.node.split('.')[0]) < 24) {
  try {
    runtime = createRequire(import.meta.url).resolve('node/bin/node');
  } catch {
    process.stderr.write(`blindsum: needs Node 24 (this is Node ${process.versions.node}) and the "node" package of its dependencies was not found; run npm ci in ${join(here, '..')}\n`);
    process.exit(2);
  }
}
const child = spawn(runtime, [join(here, 'blindsum.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => {
  if (signal) process.kill(process.pid, signal);
  else process.exit(code ?? 1);
});
child.on('error', (e) => {
  process.stderr.write(`blindsum: cannot start ${runtime}: ${e.message}\n`);
  process.exit(2);
});
