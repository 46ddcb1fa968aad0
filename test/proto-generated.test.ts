import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('generated gRPC code', () => {
  it('gen/ is exactly what buf + ts-proto generate from proto/ (regenerate with npm run gen)', () => {
    const out = mkdtempSync(join(tmpdir(), 'blindsum-gen-'));
    try {
      execFileSync('npx', ['buf', 'generate', '--output', out], { stdio: 'pipe' });
      const fresh = readFileSync(join(out, 'gen/blindsum/v1/blindsum.ts'), 'utf8');
      const committed = readFileSync('gen/blindsum/v1/blindsum.ts', 'utf8');
      expect(fresh === committed).toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
