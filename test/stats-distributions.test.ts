/**
 * The distribution functions behind p values and confidence intervals agree with R's pnorm,
 * pchisq, lgamma and qnorm (values made by test/reference/distributions.R), far tails included.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chiSquareUpper, logGamma, normalQuantile, normalUpper, twoSidedP } from '../stats/distributions.ts';

const R = JSON.parse(readFileSync('test/reference/distributions.json', 'utf8')) as Record<string, number[][]>;
const rel = (a: number, b: number): number => (a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b)));

describe('distribution functions against R', () => {
  it('normalUpper equals pnorm(z, lower.tail = FALSE) to 1e-12 relative up to z = 35', () => {
    for (const [z, p] of R.normalUpper!) expect(rel(normalUpper(z!), p!), `z = ${z}`).toBeLessThan(1e-12);
    expect(twoSidedP(-1.959963984540054)).toBeCloseTo(0.05, 14);
  });
  it('chiSquareUpper equals pchisq(x, k, lower.tail = FALSE) to 1e-12 relative', () => {
    for (const [x, k, p] of R.chiSquareUpper!) expect(rel(chiSquareUpper(x!, k!), p!), `x = ${x}, k = ${k}`).toBeLessThan(1e-12);
  });
  it('logGamma equals lgamma to 1e-13 relative', () => {
    for (const [x, v] of R.logGamma!) expect(Math.abs(logGamma(x!) - v!) / Math.max(1, Math.abs(v!)), `x = ${x}`).toBeLessThan(1e-13);
  });
  it('normalQuantile equals qnorm to 1e-12 relative', () => {
    for (const [p, z] of R.normalQuantile!) expect(rel(normalQuantile(p!), z!), `p = ${p}`).toBeLessThan(1e-12);
  });
  it('refuses arguments outside the domain', () => {
    expect(() => logGamma(0)).toThrow(/positive/);
    expect(() => normalQuantile(1)).toThrow(/\(0, 1\)/);
    expect(() => chiSquareUpper(1, 0)).toThrow(/degrees of freedom/);
  });
});
