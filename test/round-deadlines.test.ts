/**
 * Issue 14 item 7 (the 30-party key ceremony): round deadlines and keepalive sized from the work
 * (services/aggregator/deadlines.ts, services/common/grpc-options.ts), the ceremony's Shamir
 * shares computed in slices that give the event loop a turn (crypto/ckks/threshold.ts,
 * ceremony.ts commitShareSteps/finishSteps). Ceremonies at 8 (in process) and 30 parties (31
 * processes) are in test/scale/ceremony.test.ts (npm run test:scale). No test here asserts a
 * wall-clock time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CeremonyError, type CeremonyParams } from '../crypto/ckks/ceremony.ts';
import { CeremonyParty } from '../crypto/ckks/ceremony-party.ts';
import { CeremonyServer } from '../crypto/ckks/ceremony-server.ts';
import { CkksContext, PARAMETER_SETS } from '../crypto/ckks/params.ts';
import { genShamirPolynomial, genShamirSecretShare, genShamirSecretShares, genShamirSecretSharesSteps, shamirSlice, SHAMIR_STEP_OPS } from '../crypto/ckks/threshold.ts';
import { genSecretKeyShare } from '../crypto/ckks/ckg.ts';
import { generateIdentity } from '../crypto/identity.ts';
import { ceremonyWork, deadlineMs, MAX_DEADLINE_MS, RoundDeadlines, SAFETY, secaggWork, type CeremonyStage } from '../services/aggregator/deadlines.ts';
import { PartyConnection } from '../services/aggregator/gateway.ts';
import { keepaliveTimeoutMs, KEEPALIVE_TIMEOUT_MAX_MS, KEEPALIVE_TIMEOUT_MIN_MS } from '../services/common/grpc-options.ts';
import { runSteps } from '../services/common/steps.ts';
import { contentionFactor, FLOOR_COSTS } from '../services/common/work-costs.ts';
import { makeHarness, plainSum } from './secagg-helpers.ts';

const N8192 = { N: 8192, L: 3 };
const STAGES: CeremonyStage[] = ['CRSCommit', 'CRSReveal', 'CKGCommit', 'CKGShare', 'CKGConfirm'];

describe('round deadlines sized from the work (n, t, N, L, measured costs, host contention)', () => {
  it('the CKGCommit work is the n·t·L·N Shamir multiply-adds: 30 parties need far more than 10', () => {
    const w10 = ceremonyWork('CKGCommit', { n: 10, t: 6, ...N8192 }, FLOOR_COSTS);
    const w30 = ceremonyWork('CKGCommit', { n: 30, t: 16, ...N8192 }, FLOOR_COSTS);
    expect(w30.partyMs).toBeGreaterThanOrEqual(30 * 16 * 3 * 8192 * FLOOR_COSTS.mulAddMs);
    expect(w30.partyMs / w10.partyMs).toBeGreaterThan(5);
    for (const stage of STAGES) {
      const small = ceremonyWork(stage, { n: 3, t: 2, ...N8192 }, FLOOR_COSTS);
      const large = ceremonyWork(stage, { n: 30, t: 16, ...N8192 }, FLOOR_COSTS);
      expect(large.partyMs + large.aggregatorMs, stage).toBeGreaterThan(small.partyMs + small.aggregatorMs);
    }
  });

  it('31 processes on 2 cores: every ceremony deadline covers the whole work of its round under that contention, with the safety factor', () => {
    const host = { loopbackCount: () => 30 };
    const d = new RoundDeadlines(30_000, host, { costs: FLOOR_COSTS, cores: 2, loadAverage: () => 0 });
    expect(d.contention()).toBe(15.5);
    for (const stage of STAGES) {
      const w = ceremonyWork(stage, { n: 30, t: 16, ...N8192 }, FLOOR_COSTS);
      const deadline = d.ceremony(stage, { n: 30, t: 16, ...N8192 });
      expect(deadline, stage).toBeGreaterThanOrEqual(30_000 + SAFETY * 15.5 * (w.partyMs + w.aggregatorMs) - 1);
    }
    // The fixed 30 s that dropped every party: below the CKGCommit work of 30 local parties alone.
    const ckg = ceremonyWork('CKGCommit', { n: 30, t: 16, ...N8192 }, FLOOR_COSTS);
    expect(15.5 * ckg.partyMs).toBeGreaterThan(0.5 * 30_000);
    expect(d.ceremony('CKGCommit', { n: 30, t: 16, ...N8192 })).toBeGreaterThan(30_000 + 15.5 * ckg.partyMs);
  });

  it('remote parties (no loopback peers) on a quiet host add only the work to the base', () => {
    const d = new RoundDeadlines(30_000, { loopbackCount: () => 0 }, { costs: FLOOR_COSTS, cores: 2, loadAverage: () => 0 });
    expect(d.contention()).toBe(1);
    const w = ceremonyWork('CKGCommit', { n: 30, t: 16, ...N8192 }, FLOOR_COSTS);
    expect(d.ceremony('CKGCommit', { n: 30, t: 16, ...N8192 })).toBe(Math.ceil(30_000 + SAFETY * (w.partyMs + w.aggregatorMs)));
  });

  it('the load average counts other work on the host; contention is never below 1', () => {
    expect(contentionFactor(1, 0, 2)).toBe(1);
    expect(contentionFactor(31, 0, 2)).toBe(15.5);
    expect(contentionFactor(3, 40, 2)).toBe(21.5);
    const loaded = new RoundDeadlines(1000, { loopbackCount: () => 2 }, { costs: FLOOR_COSTS, cores: 2, loadAverage: () => 40 });
    const quiet = new RoundDeadlines(1000, { loopbackCount: () => 2 }, { costs: FLOOR_COSTS, cores: 2, loadAverage: () => 0 });
    expect(loaded.ceremony('CKGCommit', { n: 3, t: 2, ...N8192 })).toBeGreaterThan(quiet.ceremony('CKGCommit', { n: 3, t: 2, ...N8192 }));
  });

  it('secure aggregation: masking grows with n·L, AdvertiseKeys with the measured plan time, ShareKeys with n', () => {
    const shape = { n: 30, t: 16, vectorLength: 100_000, ringBytes: 8 };
    const m = secaggWork('MaskedInputCollection', shape, FLOOR_COSTS);
    expect(m.partyMs).toBeGreaterThanOrEqual(30 * 100_000 * 8 * FLOOR_COSTS.prgByteMs);
    expect(secaggWork('MaskedInputCollection', { ...shape, vectorLength: 1_000_000 }, FLOOR_COSTS).partyMs).toBeGreaterThan(5 * m.partyMs);
    const a0 = secaggWork('AdvertiseKeys', shape, FLOOR_COSTS);
    const a1 = secaggWork('AdvertiseKeys', { ...shape, planMs: 1000 }, FLOOR_COSTS);
    expect(a1.partyMs - a0.partyMs).toBe(3000);
    expect(secaggWork('ShareKeys', shape, FLOOR_COSTS).partyMs).toBeGreaterThan(secaggWork('ShareKeys', { ...shape, n: 10 }, FLOOR_COSTS).partyMs);
  });

  it('a deadline never exceeds an hour', () => {
    expect(deadlineMs(30_000, { partyMs: 1e9, aggregatorMs: 0 }, 100)).toBe(MAX_DEADLINE_MS);
  });

  it('keepalive timeout grows with the parties sharing the host, between 10 s and 10 minutes', () => {
    const slow = { ...FLOOR_COSTS, byteMs: 1e-5 };
    expect(keepaliveTimeoutMs(3, FLOOR_COSTS, 2)).toBeGreaterThanOrEqual(KEEPALIVE_TIMEOUT_MIN_MS);
    expect(keepaliveTimeoutMs(30, FLOOR_COSTS, 2)).toBeGreaterThan(keepaliveTimeoutMs(3, FLOOR_COSTS, 2));
    expect(keepaliveTimeoutMs(30, FLOOR_COSTS, 2)).toBeGreaterThan(20_000); // the fixed 10 s dropped busy parties
    expect(keepaliveTimeoutMs(100, slow, 2)).toBe(KEEPALIVE_TIMEOUT_MAX_MS);
  });

  it('the gateway counts loopback peers as parties sharing the aggregator host', () => {
    const conn = (peer: string): PartyConnection => new PartyConnection('p', {} as never, peer);
    for (const p of ['127.0.0.1:40212', 'ipv4:127.0.0.1:5', '[::1]:40212', 'ipv6:[::1]:1', '[::ffff:127.0.0.1]:9']) expect(conn(p).onLoopback, p).toBe(true);
    for (const p of ['10.0.0.5:40212', '192.168.1.2:1', '[2001:db8::1]:443', '']) expect(conn(p).onLoopback, p).toBe(false);
  });
});

describe('the ceremony\'s heavy steps run in slices', () => {
  let ctx: CkksContext;
  beforeAll(async () => {
    ctx = await CkksContext.create(PARAMETER_SETS.N4096);
  }, 60_000);
  afterAll(() => ctx?.[Symbol.dispose]());

  it('Shamir shares for all points at once (deferred reduction) equal the per-point evaluation, up to t = 51 and points ≤ 100', () => {
    for (const [t, points] of [[2, [1, 2, 3]], [16, Array.from({ length: 30 }, (_, i) => i + 1)], [51, [1, 50, 99, 100]]] as const) {
      const poly = genShamirPolynomial(ctx, t, genSecretKeyShare(ctx));
      const all = genShamirSecretShares(ctx, poly, points);
      // Compare a few points (the one-point evaluation is the slow reference): first, middle, last.
      [...new Set([0, points.length >> 1, points.length - 1])].forEach((k) => {
        const x = points[k]!;
        const one = genShamirSecretShare(ctx, poly, x);
        expect(all[k]!.every((v, i) => v === one[i]), `t=${t} x=${x}`).toBe(true);
      });
    }
  });

  it('the Shamir evaluation yields once per slice of coefficients, a slice being about SHAMIR_STEP_OPS multiply-adds at any n and t', () => {
    const poly = genShamirPolynomial(ctx, 16, genSecretKeyShare(ctx));
    const points = Array.from({ length: 30 }, (_, i) => i + 1);
    const slice = shamirSlice(16, 30);
    expect(slice * 16 * 30).toBeLessThanOrEqual(SHAMIR_STEP_OPS);
    expect(shamirSlice(51, 100) * 51 * 100).toBeLessThanOrEqual(SHAMIR_STEP_OPS);
    const steps = genShamirSecretSharesSteps(ctx, poly, points);
    let yields = 0;
    for (let r = steps.next(); !r.done; r = steps.next()) yields++;
    expect(yields).toBe(ctx.keyLevel * Math.ceil(ctx.N / slice));
  });

  const ids = ['a', 'b', 'c', 'd', 'e'];
  const identities = new Map(ids.map((id) => [id, generateIdentity()]));
  const keys = new Map(ids.map((id) => [id, identities.get(id)!.publicKey]));
  const setup = (): { server: CeremonyServer; parties: CeremonyParty[]; params: CeremonyParams } => {
    const params: CeremonyParams = { ceremonyId: 'ceremony-steps-01', paramsName: ctx.params.name, rosterDigest: 'cd'.repeat(32), threshold: 3, parties: ids };
    const server = new CeremonyServer(ctx, params, keys);
    const parties = ids.map((id) => new CeremonyParty(ctx, params, id, identities.get(id)!.secretKey, keys));
    parties.forEach((p) => server.receiveCommit({ party: p.self, ...p.commit() }));
    const commits = server.closeCommits();
    parties.forEach((p) => server.receiveReveal({ party: p.self, nonce: p.reveal(commits) }));
    return { server, parties, params };
  };

  it('a ceremony run with event-loop turns between slices gives every party the same key', async () => {
    const { server, parties } = setup();
    const nonces = server.closeReveals();
    for (const p of parties) server.receiveCkgCommit({ party: p.self, ...(await runSteps(p.commitShareSteps(nonces), 0)) });
    const ckgCommits = server.closeCkgCommits();
    for (const p of parties) {
      const s = p.share(ckgCommits);
      server.receiveShare(p.self, s.ckgShare, s.thresholdShares);
    }
    const round = server.closeShares();
    const out = await Promise.all(parties.map((p) => runSteps(p.finishSteps(round.publicKey, round.ckgShares, round.routed.get(p.self)!), 0)));
    expect(new Set(out.map((k) => k.publicKeySha256))).toEqual(new Set([round.publicKeySha256]));
  });

  it('an abort between two slices ends the step with wrong-stage, and no second step may start while one runs', () => {
    const { server, parties } = setup();
    const nonces = server.closeReveals();
    const p = parties[0]!;
    const steps = p.commitShareSteps(nonces);
    steps.next();
    expect(() => p.commitShare(nonces)).toThrow(/already running/);
    p.abort();
    expect(() => steps.next()).toThrow(CeremonyError);
    expect(p.stage).toBe('aborted');
    expect(() => p.commitShare(nonces)).toThrow(/wrong-stage/);
  });
});

describe('secure aggregation: the aggregator removes masks in slices', () => {
  it('finishSteps yields once per mask removed (n self masks + n pairwise masks per dropped party) and gives the plain sum; no Unmasking message is taken meanwhile', () => {
    const h = makeHarness({ vectorLength: 1000 });
    const { clients, server } = h;
    const all = [...clients.values()];
    for (const c of all) server.receiveAdvertiseKeys(c.advertiseKeys());
    const u1 = server.closeAdvertiseKeys();
    for (const c of all) server.receiveShareKeys(c.shareKeys(u1));
    const routed = server.closeShareKeys();
    const dropped = 'h05';
    for (const c of all.filter((c) => c.party !== dropped)) server.receiveMaskedInput(c.maskedInput(routed.get(c.party)!, h.inputs.get(c.party)!));
    const u3 = server.closeMaskedInputCollection();
    for (const c of all.filter((c) => u3.includes(c.party))) server.receiveConsistencyCheck(c.consistencyCheck(u3));
    const request = server.closeConsistencyCheck();
    const answers = all.filter((c) => u3.includes(c.party)).map((c) => c.unmask(request));
    for (const a of answers.slice(0, 3)) server.receiveUnmasking(a);
    const steps = server.finishSteps();
    let yields = 0;
    let r = steps.next();
    expect(() => server.receiveUnmasking(answers[3]!)).toThrow(/after finish started/);
    expect(() => server.finish()).toThrow(/already running/);
    for (; !r.done; r = steps.next()) yields++;
    expect(yields).toBe(u3.length + 1 * u3.length);
    expect(Array.from(r.value)).toEqual(Array.from(plainSum(h, u3)));
  });
});
