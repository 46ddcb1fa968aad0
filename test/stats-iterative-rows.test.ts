/**
 * runJob when the rows change between rounds (a party dropped out): objectives of different rows
 * are not compared, so the job neither halves steps against nor converges on another population's
 * objective. A synthetic iterative kind with a quadratic objective per population shows it.
 */
import { describe, expect, it } from 'vitest';
import { parseSchema } from '../stats/index.ts';
import type { Query, QueryKind } from '../stats/index.ts';
import { ITERATIVE, runJob, type IterativeRound } from '../stats/iterative.ts';

const KIND = 'test_quadratic' as QueryKind;
ITERATIVE[KIND] = { initialState: () => [0] };
const schema = parseSchema({ name: 't', maxRowsPerParty: 10, columns: [{ name: 'x', type: 'numeric', min: 0, max: 1 }] });

/** Population A (n = 100): (s − 1)² + 10; population B (n = 90): (s − 3)² + 50; each round returns the exact Newton step. */
function round(s: number, pop: 'A' | 'B'): IterativeRound {
  const [n, m, c] = pop === 'A' ? [100, 1, 10] : [90, 3, 50];
  return { state: [s], nextState: [m], objective: (s - m) ** 2 + c, n, notes: [] };
}

describe('runJob over rounds with different rows', () => {
  it('a party leaving after round 1: the job restarts its convergence test and converges on the remaining rows', async () => {
    const { result, rounds } = await runJob({ kind: KIND, columns: [], filter: [] }, schema, async (q: Query) => round(q.state![0]!, q.round === 1 ? 'A' : 'B'));
    // Round 2's objective (rows B, 54) is above round 1's (rows A, 11): not a reason to halve.
    expect(rounds.map((r) => r.state[0])).toEqual([0, 1, 3, 3]);
    expect(result.converged).toBe(true);
    expect(result.state).toEqual([3]);
    expect(result.n).toBe(90);
    expect(result.notes.join('\n')).toMatch(/round 2 was over other rows than round 1 \(n = 100 then 90\)/);
  });

  it('rounds over the same rows are unaffected: a rise of the objective still halves the step', async () => {
    // Overshooting steps (nextState 2m − s reflects) on rows A only.
    let calls = 0;
    const { rounds } = await runJob({ kind: KIND, columns: [], filter: [] }, schema, async (q: Query) => {
      calls++;
      const s = q.state![0]!;
      return { state: [s], nextState: [calls === 1 ? 3 : 1], objective: (s - 1) ** 2 + 10, n: 100, notes: [] };
    });
    expect(rounds.map((r) => r.state[0])).toEqual([0, 3, 1.5, 1, 1]);
  });
});
