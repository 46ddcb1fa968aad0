/**
 * A real PostgreSQL server for tests, started and stopped by the test itself: initdb into a temp
 * directory, postgres listening only on a unix socket in that directory (no TCP port to collide
 * with), password authentication (scram-sha-256) for every connection. Uses Debian's binaries
 * (/usr/lib/postgresql/VERSION/bin, installed by `.ci/run` when missing); `findPostgres()` returns
 * undefined when they are absent and the test then skips with a printed reason. As root (CI
 * containers) the server runs as the "postgres" system user, since PostgreSQL refuses root.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export const PG_PASSWORD = 'pw-9f3c1e0b7d';

/** The bin directory of the newest installed Debian PostgreSQL, or undefined. */
export function findPostgres(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_ctl'))).sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(root, versions[0]!, 'bin') : undefined;
}

export interface TestPostgres {
  /** Directory of the unix socket. */
  socketDir: string;
  /** postgres:///DB?host=SOCKET&user=postgres (no password in it). */
  url(db: string): string;
  /** A connected client (as the superuser). */
  client(db?: string): Promise<pg.Client>;
  /** psql's path (for an independent CSV export). */
  psql: string;
  stop(): Promise<void>;
}

export async function startPostgres(bin: string): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'blindsum-pg-'));
  const asRoot = process.getuid?.() === 0;
  let run = (cmd: string, args: string[]): string => execFileSync(join(bin, cmd), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
    // runuser lives in sbin, which a PATH need not list
    const runuser = ['/usr/sbin/runuser', '/sbin/runuser'].find((p) => existsSync(p)) ?? 'runuser';
    run = (cmd, args) => execFileSync(runuser, ['-u', 'postgres', '--', join(bin, cmd), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }
  chmodSync(dir, 0o700);
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, `${PG_PASSWORD}\n`, { mode: 0o600 });
  if (asRoot) chownSync(pwfile, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()), 0);
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C', '--no-sync']);
  run('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', '-o', `-k ${dir} -c listen_addresses='' -F -c max_connections=20`, 'start']);
  const url = (db: string): string => `postgres:///${db}?host=${encodeURIComponent(dir)}&user=postgres`;
  return {
    socketDir: dir,
    url,
    psql: join(bin, 'psql'),
    async client(db = 'postgres') {
      const c = new pg.Client({ host: dir, user: 'postgres', database: db, password: PG_PASSWORD });
      await c.connect();
      return c;
    },
    async stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
