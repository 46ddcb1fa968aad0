/**
 * An exclusive lock on a data directory (the aggregator's --data-dir, a party's --state-dir): two
 * processes writing one SQLite store and one transcript would corrupt both (a second aggregator
 * once wrote beside an old one that was still shutting down). The lock is a file `LOCK` created
 * with O_CREAT|O_EXCL holding the owner's pid; a second process refuses to start and names that
 * pid. A lock left by a process that no longer exists (kill -9, power loss) is taken over, and the
 * take-over is logged. Pids can be reused: a stale lock whose pid now belongs to another live
 * process still refuses, with the pid and the path to remove by hand.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export class DirLockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DirLockError';
  }
}

/** Locks this process holds (a second lock of the same directory in one process is refused too). */
const HELD = new Set<string>();

export interface DirLock {
  readonly path: string;
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** Takes the lock of `dir` (created if absent) for this process, or throws DirLockError naming the holder. */
export function acquireDirLock(dir: string, what: string, log: (msg: string) => void = () => {}): DirLock {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, 'LOCK');
  if (HELD.has(path)) throw new DirLockError(`${what} ${dir} is already in use by this process (pid ${process.pid})`);
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new DirLockError(`cannot lock ${what} ${dir}: ${(e as Error).message}`);
      const text = (() => {
        try {
          return readFileSync(path, 'utf8').trim();
        } catch {
          return '';
        }
      })();
      const pid = /^\d{1,10}$/.test(text) ? Number(text) : NaN;
      if (Number.isFinite(pid) && pid !== process.pid && alive(pid)) {
        throw new DirLockError(`${what} ${dir} is in use by process ${pid} (its lock file ${path}); stop that process first, or remove the lock file if ${pid} is not a blindsum process`);
      }
      log(`taking over the lock of ${what} ${dir}: its holder ${Number.isFinite(pid) ? `(pid ${pid})` : '(unreadable lock file)'} is gone`);
      rmSync(path, { force: true });
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    HELD.add(path);
    let released = false;
    return {
      path,
      release() {
        if (released) return;
        released = true;
        HELD.delete(path);
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path, { force: true });
        } catch {
          /* already gone */
        }
      },
    };
  }
  throw new DirLockError(`cannot lock ${what} ${dir}: another process took its lock at the same time`);
}
