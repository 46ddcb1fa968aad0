/**
 * The packaging files (Dockerfile, compose.yaml, deploy/compose-init.sh, deploy/systemd/*.service)
 * kept honest without a Docker daemon or systemd as init: every `blindsum` command, subcommand and
 * flag they use is parsed with the real CLI's option tables (cli/commands/index.ts); every file
 * they copy or read exists in the repository or is made by the init script; the image copies every
 * module the CLI imports; the init script runs; and the compose federation's own commands (paths
 * mapped to a scratch directory, the aggregator on 127.0.0.1) start an aggregator with mutual TLS
 * and three parties, pass the compose health check, and answer the analyst query the compose
 * file documents. systemd units: the hardening options, and `systemd-analyze security` where
 * systemd-analyze is installed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../cli/commands/index.ts';
import { CLI_PATH } from '../cli/federation.ts';
import { parseYamlSubset, type YamlValue } from './yaml-subset.ts';

const REPO = resolve('.');
/** Options whose value is a file or directory the command writes (the rest must exist beforehand). */
const WRITTEN = new Set(['data-dir', 'state-dir', 'receipts', 'out', 'dir']);

/** Parses `argv` (after "blindsum") with the real command's option table; returns the command name and its values. */
function checkBlindsum(argv: string[], where: string): { name: string; values: Record<string, unknown>; positionals: string[] } {
  let [name, ...rest] = argv;
  if (name === 'analyst' && rest[0] !== undefined && !rest[0].startsWith('-')) [name, ...rest] = [`analyst ${rest[0]}`, ...rest.slice(1)];
  const cmd = COMMANDS.find((c) => c.name === name);
  expect(cmd, `${where}: "blindsum ${name}" is not a command`).toBeDefined();
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: rest, options: cmd!.options, allowPositionals: cmd!.allowPositionals ?? false, strict: true }) as typeof parsed;
  } catch (e) {
    throw new Error(`${where}: blindsum ${name}: ${(e as Error).message}`);
  }
  if (name === 'audit') expect(['export', 'verify'], where).toContain(parsed.positionals[0]);
  for (const [k, v] of Object.entries(parsed.values)) if (typeof v === 'string') expect(v, `${where}: --${k} is empty`).not.toBe('');
  return { name: name!, ...parsed };
}

/** Every absolute path among a command's option values: [option, path]. */
function pathOptions(values: Record<string, unknown>): [string, string][] {
  return Object.entries(values).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string' && x.startsWith('/')).map((x) => [k, x] as [string, string]));
}

// ---------------------------------------------------------------- Dockerfile

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

function dockerfile(): Instruction[] {
  const text = readFileSync('Dockerfile', 'utf8').split('\n').filter((l) => !/^\s*#/.test(l)).join('\n').replace(/\\\n/g, ' ');
  let stage = -1;
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(l);
    if (!m) throw new Error(`Dockerfile: not an instruction: ${l}`);
    if (m[1] === 'FROM') stage++;
    return { op: m[1]!, args: m[2]!.trim(), stage };
  });
}

/** Relative imports reachable from `entry` (TypeScript sources), as repository paths. */
function importClosure(entries: string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...entries];
  while (todo.length) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const src = readFileSync(join(REPO, file), 'utf8');
    for (const m of src.matchAll(/(?:from\s+|import\s*\(\s*|new URL\(\s*)'(\.{1,2}\/[^']+)'/g)) {
      const target = relative(REPO, resolve(dirname(join(REPO, file)), m[1]!));
      if (target.endsWith('.ts')) todo.push(target);
      else seen.add(target.replace(/\/$/, ''));
    }
  }
  return seen;
}

describe('Dockerfile', () => {
  const ins = dockerfile();
  const final = ins.filter((i) => i.stage === Math.max(...ins.map((x) => x.stage)));

  it('is multi-stage on Node 24, the major version of the node runtime package.json pins', () => {
    const froms = ins.filter((i) => i.op === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    const pinned = (JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> }).dependencies['node']!;
    for (const f of froms) expect(f.args).toMatch(new RegExp(`^node:${pinned.split('.')[0]}-[a-z]+-slim AS [a-z]+$`));
  });

  it('runs as a non-root user, with state, data and configuration volumes owned by it', () => {
    const user = final.filter((i) => i.op === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    const volumes = JSON.parse(final.find((i) => i.op === 'VOLUME')!.args) as string[];
    expect(volumes).toEqual(expect.arrayContaining(['/var/lib/blindsum', '/srv/blindsum/data', '/etc/blindsum']));
    const run = final.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
    for (const v of volumes) expect(run).toMatch(new RegExp(`chown blindsum:blindsum[^\\n]*${v.replaceAll('/', '\\/')}`));
  });

  it('copies files that exist and are not excluded by .dockerignore, and every module the CLI loads', () => {
    const ignored = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const copied: string[] = [];
    for (const c of ins.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
      const parts = c.args.split(/\s+/);
      for (const src of parts.slice(0, -1)) {
        expect(existsSync(join(REPO, src)), `COPY ${src}`).toBe(true);
        expect(ignored.some((g) => g === src || g === src.split('/')[0]), `COPY ${src} is in .dockerignore`).toBe(false);
        if (c.stage === final[0]!.stage) copied.push(src.replace(/\/$/, ''));
      }
    }
    // Built in the image (not copied): the web console's pages, by `RUN node web/build.ts /app/OUT`.
    for (const r of final.filter((i) => i.op === 'RUN')) for (const m of r.args.matchAll(/node web\/build\.ts \/app\/(\S+)/g)) copied.push(m[1]!.replace(/\/$/, ''));
    const entries = ['cli/blindsum.ts', 'services/party/stats-worker.ts', 'services/aggregator/release-worker.ts'].filter((f) => existsSync(f));
    for (const f of importClosure(entries)) expect(copied.some((c) => f === c || f.startsWith(`${c}/`)), `${f} is needed at run time but not copied into the image`).toBe(true);
  });

  it('puts blindsum on PATH as the entrypoint, and its health check is a valid blindsum health command', () => {
    const link = /ln -s \/app\/(\S+) \/usr\/local\/bin\/blindsum/.exec(final.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n'));
    expect(link?.[1]).toBe('cli/blindsum.ts');
    expect(JSON.parse(final.find((i) => i.op === 'ENTRYPOINT')!.args)).toEqual(['blindsum']);
    const hc = final.find((i) => i.op === 'HEALTHCHECK')!.args;
    const argv = JSON.parse(hc.slice(hc.indexOf('CMD') + 3).trim()) as string[];
    expect(argv[0]).toBe('blindsum');
    expect(checkBlindsum(argv.slice(1), 'Dockerfile HEALTHCHECK').name).toBe('health');
  });

  it('passes hadolint, where it is installed', () => {
    const r = spawnSync('hadolint', ['Dockerfile'], { encoding: 'utf8' });
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
      console.warn('hadolint is not installed (neither npm nor Debian packages it): Dockerfile not linted');
      return;
    }
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});

// ---------------------------------------------------------------- compose.yaml + init script

type Service = { [key: string]: YamlValue };

describe('compose.yaml', () => {
  const compose = parseYamlSubset(readFileSync('compose.yaml', 'utf8')) as { services: Record<string, Service>; volumes: Record<string, YamlValue> };
  const services = compose.services;
  const dockerVolumes = JSON.parse(dockerfile().filter((i) => i.op === 'VOLUME').at(-1)!.args) as string[];
  let scratch: string;
  let bin: string;
  const children: ChildProcess[] = [];

  /** Container path → path in the scratch directory (or the repository, for /app). */
  const hostPath = (p: string, service: string): string => {
    if (p === '/app' || p.startsWith('/app/')) return join(REPO, p.slice(5));
    if (p.startsWith('/etc/blindsum')) return join(scratch, 'config', p.slice('/etc/blindsum'.length));
    if (p.startsWith('/srv/blindsum/data')) return join(scratch, 'data', p.slice('/srv/blindsum/data'.length));
    if (p.startsWith('/var/lib/blindsum')) return join(scratch, `${service}-state`, p.slice('/var/lib/blindsum'.length));
    throw new Error(`${service}: path outside the image's volumes and /app: ${p}`);
  };
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, PATH: `${bin}:${process.env['PATH']}`, BLINDSUM_CONFIG_DIR: join(scratch, 'config'), BLINDSUM_DATA_DIR: join(scratch, 'data'), BLINDSUM_APP_DIR: REPO });

  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'blindsum-compose-'));
    bin = join(scratch, '.bin');
    for (const d of [bin, join(scratch, 'config'), join(scratch, 'data')]) mkdirSync(d);
    writeFileSync(join(bin, 'blindsum'), `#!/bin/sh\nexec '${process.execPath}' '${CLI_PATH}' "$@"\n`);
    chmodSync(join(bin, 'blindsum'), 0o755);
  });

  afterAll(async () => {
    await Promise.all(children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise<void>((done) => {
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      c.once('exit', () => {
        clearTimeout(t);
        done();
      });
      c.kill('SIGTERM');
    })));
    rmSync(scratch, { recursive: true, force: true });
  });

  it('starts an init service, an aggregator and three parties, in that order', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['init', 'aggregator', 'hospital-a', 'hospital-b', 'hospital-c']));
    expect(services['aggregator']!['depends_on']).toEqual({ init: { condition: 'service_completed_successfully' } });
    for (const h of ['hospital-a', 'hospital-b', 'hospital-c']) expect(services[h]!['depends_on']).toEqual({ aggregator: { condition: 'service_healthy' } });
    expect(services['init']!['build']).toBe('.');
  });

  it('mounts only declared volumes, at the image\'s volume paths, read-only where the service only reads', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const m of (s['volumes'] as string[] | undefined) ?? []) {
        const [vol, path, mode] = m.split(':');
        expect(Object.keys(compose.volumes), `${name}: volume ${vol}`).toContain(vol);
        expect(dockerVolumes, `${name}: ${path} is not one of the image's volumes (its ownership would be root's)`).toContain(path);
        if (name !== 'init' && path !== '/var/lib/blindsum') expect(mode, `${name}: ${m}`).toBe('ro');
      }
    }
  });

  it('uses only real blindsum commands and flags; written paths are on the service\'s writable state volume', () => {
    const check = (name: string, argv: string[]): void => {
      const { values } = checkBlindsum(argv, `compose ${name}`);
      for (const [k, p] of pathOptions(values)) {
        if (WRITTEN.has(k)) expect(p.startsWith('/var/lib/blindsum'), `${name}: --${k} ${p} must be on the state volume`).toBe(true);
        else hostPath(p, name); // inside a volume or /app
      }
    };
    for (const [name, s] of Object.entries(services)) {
      if (Array.isArray(s['command'])) check(name, s['command'] as string[]);
      const hc = s['healthcheck'] as { test?: string[]; disable?: boolean } | undefined;
      if (hc?.test) {
        expect(hc.test.slice(0, 2)).toEqual(['CMD', 'blindsum']);
        check(`${name} healthcheck`, hc.test.slice(2));
      }
    }
    const documented = /#\s+docker compose run --rm analyst (.+)/.exec(readFileSync('compose.yaml', 'utf8'))?.[1];
    expect(documented).toBeDefined();
    check('analyst (documented query)', documented!.trim().split(/\s+/));
    expect((services['init']!['entrypoint'] as string[]).at(-1)).toBe('/app/deploy/compose-init.sh');
  });

  it('the init script runs: it makes every file the services read, and a second run does nothing', () => {
    const r = spawnSync('/bin/sh', [join(REPO, 'deploy/compose-init.sh')], { encoding: 'utf8', env: env(), timeout: 180_000 });
    expect(r.status, r.stderr).toBe(0);
    for (const [name, s] of Object.entries(services)) {
      const argv = [...((s['command'] as string[] | undefined) ?? []), ...(((s['healthcheck'] as { test?: string[] } | undefined)?.test ?? []).slice(2))];
      for (const a of argv) if (a.startsWith('/etc/') || a.startsWith('/srv/')) expect(existsSync(hostPath(a, name)), `${name} reads ${a}, which init does not make`).toBe(true);
    }
    const again = spawnSync('/bin/sh', [join(REPO, 'deploy/compose-init.sh')], { encoding: 'utf8', env: env() });
    expect(again.stdout).toMatch(/already set up; nothing to do/);
  }, 200_000);

  it('its commands run: the aggregator (mutual TLS) and three parties start, the health check passes, the documented analyst query is answered', async () => {
    // The compose commands with container paths mapped here, the aggregator on 127.0.0.1 (a free port).
    let port = 0;
    const mapped = (name: string, argv: string[]): string[] => argv.map((a) => {
      if (a === '0.0.0.0:7070' || a === '0.0.0.0:9464') return '127.0.0.1:0';
      if (a === 'aggregator:7070' || a === 'localhost:7070') return `localhost:${port}`;
      return a.startsWith('/') ? hostPath(a, name) : a;
    });
    const run = (name: string, argv: string[]): ChildProcess => {
      const c = spawn(process.execPath, [CLI_PATH, ...mapped(name, argv)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let log = '';
      c.stdout!.on('data', (d: Buffer) => (log += d.toString()));
      c.stderr!.on('data', (d: Buffer) => (log += d.toString()));
      c.on('exit', () => writeFileSync(join(scratch, `${name}.log`), log));
      children.push(c);
      return c;
    };
    const agg = run('aggregator', services['aggregator']!['command'] as string[]);
    port = await new Promise<number>((ok, fail) => {
      let buf = '';
      agg.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const m = /listening on port (\d+)/.exec(buf);
        if (m) ok(Number(m[1]));
      });
      agg.once('exit', (code) => fail(new Error(`the aggregator exited with ${code}`)));
    });
    const health = (services['aggregator']!['healthcheck'] as { test: string[] }).test.slice(2);
    const hc = spawnSync(process.execPath, [CLI_PATH, ...mapped('aggregator', health)], { encoding: 'utf8' });
    expect(hc.status, hc.stderr).toBe(0);
    for (const h of ['hospital-a', 'hospital-b', 'hospital-c']) run(h, services[h]!['command'] as string[]);
    const listParties = mapped('analyst', services['analyst']!['command'] as string[]);
    const deadline = Date.now() + 90_000;
    for (;;) {
      const r = spawnSync(process.execPath, [CLI_PATH, ...listParties, '--json'], { encoding: 'utf8' });
      if (r.status === 0 && (JSON.parse(r.stdout) as { parties: { connected: boolean }[] }).parties.every((p) => p.connected)) break;
      if (Date.now() > deadline) throw new Error(`the parties did not connect: ${r.stderr}`);
      await new Promise((res) => setTimeout(res, 300));
    }
    const documented = /#\s+docker compose run --rm analyst (.+)/.exec(readFileSync('compose.yaml', 'utf8'))![1]!.trim().split(/\s+/);
    const q = spawnSync(process.execPath, [CLI_PATH, ...mapped('analyst', documented)], { encoding: 'utf8', timeout: 120_000 });
    expect(q.status, q.stderr).toBe(0);
    expect(q.stdout).toMatch(/contributors: hospital-a, hospital-b, hospital-c/);
    expect(existsSync(join(scratch, 'hospital-a-state', 'state'))).toBe(true);
  }, 240_000);
});

// ---------------------------------------------------------------- systemd units

function unit(path: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const l = raw.trim();
    if (!l || l.startsWith('#')) continue;
    const s = /^\[(\w+)\]$/.exec(l);
    if (s) {
      section = s[1]!;
      continue;
    }
    const m = /^([A-Za-z]+)=(.*)$/.exec(l);
    if (!m) throw new Error(`${path}: not a key=value line: ${l}`);
    const key = `${section}.${m[1]}`;
    out.set(key, [...(out.get(key) ?? []), m[2]!]);
  }
  return out;
}

describe('systemd units', () => {
  const units = ['deploy/systemd/blindsum-aggregator.service', 'deploy/systemd/blindsum-party.service'];
  const HARDENING: Record<string, string> = {
    NoNewPrivileges: 'yes', ProtectSystem: 'strict', PrivateTmp: 'yes', ProtectHome: 'yes', PrivateDevices: 'yes', CapabilityBoundingSet: '',
    ProtectKernelTunables: 'yes', ProtectKernelModules: 'yes', ProtectControlGroups: 'yes', RestrictSUIDSGID: 'yes', LockPersonality: 'yes',
    SystemCallArchitectures: 'native', UMask: '0077', RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
  };

  for (const path of units) {
    it(`${path}: hardened, non-root, no restart after exit 2, a stop timeout above the 20 s shutdown bound`, () => {
      const u = unit(path);
      const get = (k: string): string | undefined => u.get(`Service.${k}`)?.at(-1);
      for (const [k, v] of Object.entries(HARDENING)) expect(get(k), `${path}: ${k}`).toBe(v);
      expect(get('User')).toBe('blindsum');
      expect(get('MemoryDenyWriteExecute')).toBeUndefined(); // V8's JIT needs it off
      expect(get('RestartPreventExitStatus')?.split(/\s+/)).toContain('2');
      expect(Number(get('TimeoutStopSec'))).toBeGreaterThan(20);
      expect(get('KillSignal')).toBe('SIGTERM');
    });

    it(`${path}: ExecStart is the repository's Node 24 running a valid blindsum command; it writes only under ReadWritePaths`, () => {
      const u = unit(path);
      const [node, cli, ...argv] = u.get('Service.ExecStart')![0]!.split(/\s+/);
      expect(node).toBe('/opt/blindsum/node_modules/.bin/node');
      expect(existsSync(join(REPO, 'node_modules/.bin/node'))).toBe(true);
      expect(existsSync(join(REPO, cli!.replace('/opt/blindsum/', '')))).toBe(true);
      const { values } = checkBlindsum(argv, path);
      const writable = u.get('Service.ReadWritePaths')!.flatMap((l) => l.split(/\s+/));
      for (const [k, p] of pathOptions(values)) {
        if (WRITTEN.has(k)) expect(writable.some((w) => p === w || p.startsWith(`${w}/`)), `${path}: --${k} ${p} is not under ReadWritePaths`).toBe(true);
        else expect(p, `${path}: --${k}`).toMatch(/^\/(etc|srv)\/blindsum\//);
      }
    });

    it(`${path}: systemd-analyze rates its exposure OK and finds nothing but the absent /opt/blindsum install`, () => {
      const sec = spawnSync('systemd-analyze', ['security', '--offline=true', path], { encoding: 'utf8' });
      if (sec.error && (sec.error as NodeJS.ErrnoException).code === 'ENOENT') {
        console.warn('systemd-analyze is not installed: unit not analyzed');
        return;
      }
      const level = /Overall exposure level for \S+: ([\d.]+)/.exec(sec.stdout);
      expect(level, sec.stdout + sec.stderr).not.toBeNull();
      expect(Number(level![1])).toBeLessThanOrEqual(2);
      const verify = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
      const complaints = (verify.stdout + verify.stderr).split('\n').filter((l) => l.trim() && !/Command \/opt\/blindsum\/\S+ is not executable/.test(l));
      expect(complaints).toEqual([]);
    });
  }
});
