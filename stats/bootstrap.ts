/**
 * The parametric bootstrap of a result's numeric fields under the released DP noise: post-processing
 * of released values only (Math.random, never unreleased data). Used by stats/privacy.ts for any
 * kind and by kinds whose fields are not sums of entries (train_evaluate's AUC).
 */
import type { QueryResult } from './kinds/types.ts';
import { numericFields } from './result.ts';

/** A standard normal draw (Box–Muller; Math.random: for uncertainty estimates, not for noise). */
export function gaussian(): number {
  let u = 0;
  while (u === 0) u = Math.random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * Math.random());
}

/**
 * The standard deviation of every numeric field (named as numericFields names them in `names`)
 * over `replicates` draws of `draw` (undefined: a replicate whose post-processing failed); null for
 * a field finite in fewer than half of them.
 */
export function bootstrapFields(names: string[], replicates: number, draw: () => QueryResult | undefined): Record<string, number | null> {
  const acc = names.map(() => ({ n: 0, s: 0, s2: 0 }));
  for (let r = 0; r < replicates; r++) {
    const result = draw();
    if (!result) continue;
    numericFields(result).forEach(([, v], i) => {
      if (v === null || !Number.isFinite(v) || i >= acc.length) return;
      const a = acc[i]!;
      a.n++;
      a.s += v;
      a.s2 += v * v;
    });
  }
  const out: Record<string, number | null> = {};
  names.forEach((name, i) => {
    const a = acc[i]!;
    out[name] = a.n >= replicates / 2 ? Math.sqrt(Math.max(0, (a.s2 - (a.s * a.s) / a.n) / (a.n - 1))) : null;
  });
  return out;
}
