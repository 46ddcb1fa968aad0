/**
 * Issue 13.3 — split view of survivors (a malicious aggregator alone). With n = 4 and t = 2 the
 * aggregator shows {A, B} and {C, D} different survivor sets, collects A's self-mask shares from one
 * group and A's mask-key shares from the other, and unmasks x_A. Now 2t > n + c is required by the
 * roster (every party and the aggregator load it), by the roster tool, and by every secure-
 * aggregation session; with t = 3 of 4 the same attack runs into parties that sign one survivor
 * list only and refuse an unmask request without t signatures over the list they signed.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { toHex } from '../crypto/bytes.ts';
import { generateIdentity } from '../crypto/identity.ts';
import { SecAggError, SecAggServer } from '../crypto/secagg/client.ts';
import { CLI_PATH } from '../cli/federation.ts';
import { ConfigError, parseRoster } from '../services/common/roster.ts';
import { makeHarness } from './secagg-helpers.ts';

const FOUR = ['a', 'b', 'c', 'd'];

function roster(n: number, threshold: number, collusion?: number): unknown {
  return {
    federation: 'fed', threshold, ...(collusion !== undefined ? { collusion } : {}), aggregator: { id: 'fed-aggregator', publicKey: toHex(generateIdentity().publicKey) },
    parties: Array.from({ length: n }, (_, i) => ({ id: `p${i}`, publicKey: toHex(generateIdentity().publicKey) })),
  };
}

describe('2t > n + c is enforced wherever a threshold is set', () => {
  it('the roster refuses t = 2 of 4 (the split-view configuration), naming the smallest safe t', () => {
    expect(() => parseRoster(roster(4, 2))).toThrow(ConfigError);
    expect(() => parseRoster(roster(4, 2))).toThrow(/needs 2t > n \+ c, i\.e\. t ≥ 3/);
    expect(parseRoster(roster(4, 3)).threshold).toBe(3);
  });

  it('the roster refuses more than 255 parties at load (secure aggregation shares keys over GF(2^8)), not with an internal error at the first query', () => {
    expect(parseRoster(roster(255, 128)).parties.length).toBe(255);
    expect(() => parseRoster(roster(256, 129))).toThrow(/lists 256 parties; at most 255/);
  });

  it('the roster counts the parties that may collude with the aggregator: c = 1 of 4 needs t = 3, c = 2 needs t = 4; c ≥ t is refused', () => {
    expect(parseRoster(roster(4, 3, 1)).collusion).toBe(1);
    expect(() => parseRoster(roster(4, 3, 2))).toThrow(/i\.e\. t ≥ 4/);
    expect(parseRoster(roster(4, 4, 2)).collusion).toBe(2);
    expect(() => parseRoster(roster(4, 4, 4))).toThrow(/0 ≤ c < t/);
  });

  it('a secure-aggregation session (parties and aggregator alike) refuses 2t ≤ n', () => {
    const h = makeHarness({ parties: FOUR, threshold: 3, vectorLength: 4 });
    expect(() => new SecAggServer({ ...h.params, threshold: 2 }, h.roster)).toThrow(/must exceed half of the 4 parties/);
  });

  it('the roster tool refuses t = 2 of 4 and defaults to the smallest safe t', () => {
    const dir = mkdtempSync(join(tmpdir(), 'blindsum-attack-split-'));
    try {
      const pubs = FOUR.map((id) => {
        const path = join(dir, `${id}.pub.json`);
        writeFileSync(path, JSON.stringify({ id: `h-${id}`, publicKey: toHex(generateIdentity().publicKey) }));
        return path;
      });
      const aggregator = join(dir, 'aggregator.pub.json');
      writeFileSync(aggregator, JSON.stringify({ id: 'f-aggregator', publicKey: toHex(generateIdentity().publicKey) }));
      const run = (...args: string[]) => spawnSync(process.execPath, [CLI_PATH, 'roster', '--federation', 'f', '--aggregator', aggregator, '--out', join(dir, 'r.json'), ...args, ...pubs], { encoding: 'utf8' });
      const bad = run('--threshold', '2');
      expect(bad.status).toBe(2);
      expect(bad.stderr).toMatch(/needs 2t > n \+ c, i\.e\. t ≥ 3/);
      const ok = run('--collusion', '1');
      expect(ok.status, ok.stderr).toBe(0);
      expect(JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'))).toMatchObject({ threshold: 3, collusion: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the split-view attack against t = 3 of 4 fails at the parties', () => {
  it('the aggregator shows {a, b, c} and {b, c, d}: b and c sign one list only, and d will not unmask a without t signatures over its list', () => {
    const h = makeHarness({ parties: FOUR, threshold: 3, vectorLength: 4 });
    const { clients, server, inputs } = h;
    for (const c of clients.values()) server.receiveAdvertiseKeys(c.advertiseKeys());
    const u1 = server.closeAdvertiseKeys();
    for (const c of clients.values()) server.receiveShareKeys(c.shareKeys(u1));
    const routed = server.closeShareKeys();
    const masked = new Map(FOUR.map((p) => [p, clients.get(p)!.maskedInput(routed.get(p)!, inputs.get(p)!)]));
    expect(masked.size).toBe(4);
    // View 1: a is a survivor (the aggregator wants a's self-mask shares from this group).
    const view1 = ['a', 'b', 'c'];
    const sig1 = view1.map((p) => ({ party: p, signature: clients.get(p)!.consistencyCheck(view1).signature }));
    // View 2: a "dropped" (the aggregator wants a's mask-key shares): b and c would have to sign again.
    const view2 = ['b', 'c', 'd'];
    for (const p of ['b', 'c']) {
      const e = (() => {
        try {
          clients.get(p)!.consistencyCheck(view2);
          return undefined;
        } catch (err) {
          return err as SecAggError;
        }
      })();
      expect(e?.code).toBe('wrong-stage');
    }
    const dSig = clients.get('d')!.consistencyCheck(view2).signature;
    // d is shown its own signature plus b's and c's signatures over view 1: none verifies over d's list.
    const forged = { survivors: view2, dropped: ['a'], signatures: [{ party: 'd', signature: dSig }, ...sig1.filter((s) => s.party !== 'a')] };
    expect(() => clients.get('d')!.unmask(forged)).toThrow(/signature of b does not verify over this session's U3/);
    // With d's signature alone, d refuses: fewer than t = 3 valid signatures.
    const h2 = makeHarness({ parties: FOUR, threshold: 3, vectorLength: 4 });
    for (const c of h2.clients.values()) h2.server.receiveAdvertiseKeys(c.advertiseKeys());
    const u1b = h2.server.closeAdvertiseKeys();
    for (const c of h2.clients.values()) h2.server.receiveShareKeys(c.shareKeys(u1b));
    const routedB = h2.server.closeShareKeys();
    for (const p of FOUR) h2.clients.get(p)!.maskedInput(routedB.get(p)!, h2.inputs.get(p)!);
    const lone = h2.clients.get('d')!.consistencyCheck(view2).signature;
    expect(() => h2.clients.get('d')!.unmask({ survivors: view2, dropped: ['a'], signatures: [{ party: 'd', signature: lone }] })).toThrow(/1 valid signatures, threshold 3/);
  });
});
