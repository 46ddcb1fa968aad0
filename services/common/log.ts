/** Structured one-line logs to stderr. Never pass secrets (keys, shares, seeds, raw data) here. */
import type { Logger } from './errors.ts';

export function createLogger(component: string, opts: { quiet?: boolean } = {}): Logger {
  return (level, message, fields) => {
    if (opts.quiet && level === 'info') return;
    const line = { t: new Date().toISOString(), level, component, msg: message, ...fields };
    process.stderr.write(JSON.stringify(line) + '\n');
  };
}
