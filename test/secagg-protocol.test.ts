import { describe, expect, it } from 'vitest';
import { SecAggError, SecAggStage } from '../crypto/secagg/client.ts';
import { PARTIES, ROUNDS, makeHarness, plainSum, runProtocol } from './secagg-helpers.ts';
import type { Round } from './secagg-helpers.ts';

describe('secure aggregation, 5 parties, t = 3: masks cancel', () => {
  it.each([32, 64] as const)('ring %i: no dropouts, the sum equals the plain sum and every stage ends Done', (ringBits) => {
    const h = makeHarness({ ringBits });
    const { sum, u3 } = runProtocol(h);
    expect(u3).toEqual(PARTIES);
    expect(sum).toEqual(plainSum(h, PARTIES));
    expect(h.server.stage).toBe(SecAggStage.Done);
    for (const c of h.clients.values()) expect(c.stage).toBe(SecAggStage.Done);
  });

  it.each([32, 64] as const)('ring %i: a masked input alone is not the input (it is masked)', (ringBits) => {
    const h = makeHarness({ ringBits });
    const { clients, server } = h;
    for (const c of clients.values()) server.receiveAdvertiseKeys(c.advertiseKeys());
    const u1 = server.closeAdvertiseKeys();
    for (const c of clients.values()) server.receiveShareKeys(c.shareKeys(u1));
    const routed = server.closeShareKeys();
    const c = clients.get('h01')!;
    const y = c.maskedInput(routed.get('h01')!, h.inputs.get('h01')!);
    let equal = 0;
    for (let i = 0; i < y.masked.length; i++) if (y.masked[i] === h.inputs.get('h01')![i]) equal++;
    expect(equal).toBeLessThan(5);
  });

  // Dropping "after round R" = sending nothing from the next round on.
  const dropCases: [32 | 64, Round, string, string[]][] = [];
  for (const ringBits of [32, 64] as const) {
    dropCases.push(
      [ringBits, 'AdvertiseKeys', 'before AdvertiseKeys (never joins U1)', ['h01', 'h02', 'h04', 'h05']],
      [ringBits, 'ShareKeys', 'after AdvertiseKeys (in U1, not U2)', ['h01', 'h02', 'h04', 'h05']],
      [ringBits, 'MaskedInputCollection', 'after ShareKeys (in U2, not U3: its pairwise masks are cancelled)', ['h01', 'h02', 'h04', 'h05']],
      [ringBits, 'ConsistencyCheck', 'after MaskedInputCollection (in U3, counted, never signs)', PARTIES],
      [ringBits, 'Unmasking', 'after ConsistencyCheck (in U3, counted, sends no shares)', PARTIES],
    );
  }
  it.each(dropCases)('ring %i: h03 silent from %s — %s — sum equals the sum over U3', (ringBits, round, _label, expectedU3) => {
    const h = makeHarness({ ringBits });
    const { sum, u3 } = runProtocol(h, new Map([['h03', round]]));
    expect(u3).toEqual(expectedU3);
    expect(sum).toEqual(plainSum(h, expectedU3));
  });

  it.each([32, 64] as const)('ring %i: two parties drop after ShareKeys (|U3| = t = 3), first and last in roster order', (ringBits) => {
    const h = makeHarness({ ringBits });
    const { sum, u3 } = runProtocol(h, new Map<string, Round>([['h01', 'MaskedInputCollection'], ['h05', 'MaskedInputCollection']]));
    expect(u3).toEqual(['h02', 'h03', 'h04']);
    expect(sum).toEqual(plainSum(h, u3));
  });

  it('7 parties, t = 4, drops in several rounds at once: a after AdvertiseKeys, d after ShareKeys, e after ConsistencyCheck', () => {
    const h = makeHarness({ ringBits: 64, parties: ['a', 'b', 'c', 'd', 'e', 'f', 'g'], threshold: 4, vectorLength: 100 });
    const { sum, u3 } = runProtocol(h, new Map<string, Round>([['a', 'ShareKeys'], ['d', 'MaskedInputCollection'], ['e', 'Unmasking']]));
    expect(u3).toEqual(['b', 'c', 'e', 'f', 'g']);
    expect(sum).toEqual(plainSum(h, u3));
  });

  it.each(ROUNDS.slice(0, 4))('below threshold: three parties silent from %s — the server aborts with below-threshold', (round) => {
    const h = makeHarness();
    const silent = new Map<string, Round>([['h01', round], ['h02', round], ['h03', round]]);
    let error: unknown;
    try {
      runProtocol(h, silent);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SecAggError);
    expect((error as SecAggError).code).toBe('below-threshold');
    expect(h.server.stage).toBe(SecAggStage.Aborted);
  });

  it('below threshold at Unmasking: only two Unmasking messages, finish refuses and aborts', () => {
    const h = makeHarness();
    const silent = new Map<string, Round>([['h01', 'Unmasking'], ['h02', 'Unmasking'], ['h03', 'Unmasking']]);
    expect(() => runProtocol(h, silent)).toThrow(expect.objectContaining({ code: 'below-threshold' }));
    expect(h.server.stage).toBe(SecAggStage.Aborted);
  });

  it('threshold t = n works with no dropouts; vectorLength 1', () => {
    const h = makeHarness({ threshold: 5, vectorLength: 1 });
    expect(runProtocol(h).sum).toEqual(plainSum(h, PARTIES));
  });
});
