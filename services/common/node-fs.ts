/**
 * node:fs for the few file readers and writers of services/common that sit beside pure parsing
 * code the browser auditor bundles (web/pages/auditor): roster.ts and analysts.ts are imported by
 * the verifier for their parsers, and their file functions (loadRoster, loadAnalystRoster, ...)
 * are only ever called on Node. Taken with process.getBuiltinModule (Node ≥ 22.3), as
 * crypto/native.ts takes node:crypto, so no static `node:` import reaches the browser bundle;
 * calling a file function in a browser throws a clear error.
 */
import type * as NodeFs from 'node:fs';

export function nodeFs(): typeof NodeFs {
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const fs = p?.getBuiltinModule?.('node:fs') as typeof NodeFs | undefined;
  if (!fs) throw new Error('reading or writing files needs node:fs, which this runtime (a browser?) does not have');
  return fs;
}
