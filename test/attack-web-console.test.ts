/**
 * Attacks on the web console's transport (issue 20), against a real aggregator with
 * --web-listen and three party processes: a query forged in the browser under another analyst's
 * id, reads replayed for another query or another analyst's query, stale reads, malformed and
 * oversized Connect requests, path traversal. Each is refused with a clear reason, nothing is
 * charged or stored, and the endpoint keeps serving.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetResultRequest } from '../gen/blindsum/v1/blindsum.ts';
import { queryToProto } from '../services/common/query-codec.ts';
import { READ_METADATA, signQueryRequest, signRead } from '../services/common/query-signing.ts';
import { browserSkipReason, launchBrowser, rawRequest, startWebFederation, type Browser, type WebFederation } from './web-harness.ts';

let w: WebFederation;
let browser: Browser | undefined;

beforeAll(async () => {
  [w, browser] = await Promise.all([startWebFederation(), browserSkipReason ? Promise.resolve(undefined) : launchBrowser()]);
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await w?.stop();
});

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const connect = (method: string, body: string, headers: Record<string, string> = {}, type = 'application/json'): Promise<Response> =>
  fetch(`${w.url}blindsum.v1.AnalystService/${method}`, { method: 'POST', headers: { 'content-type': type, ...headers }, body });

/** The signed-read headers of `analyst` for `method` over `requestBytes`. */
function readHeaders(analyst: string, method: string, requestBytes: Uint8Array, ts = String(Date.now())): Record<string, string> {
  const sig = signRead(w.fed.identity(analyst).identity.secretKey, 'demo', method, analyst, ts, requestBytes);
  return { [READ_METADATA.analyst]: analyst, [READ_METADATA.timestamp]: ts, [READ_METADATA.signature]: b64(sig) };
}

describe('attacks on the web console', () => {
  it.skipIf(browserSkipReason !== '')('a query forged in the browser under another analyst\'s id (signed with alice\'s key, claiming bob) is refused: nothing charged, nothing stored', async () => {
    const queryId = randomUUID();
    const forged = signQueryRequest(w.fed.identity('alice').identity.secretKey, {
      queryId, federation: 'demo', analyst: 'bob', query: queryToProto({ kind: 'count', columns: [], filter: [] }), backend: 'secagg',
      privacy: { rho: 0.5, epsilon: 0, delta: 0 }, analystKeySha256: '', issuedAtMs: BigInt(Date.now()),
    });
    const page = await browser!.newPage();
    await page.goto(`${w.url}analyst/`, { waitUntil: 'load' });
    // Sent by the page itself (same origin, as the console would), not by the test process.
    const res = await page.evaluate(async (body: string) => {
      const r = await fetch('/blindsum.v1.AnalystService/SubmitQuery', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      return { status: r.status, body: await r.text() };
    }, JSON.stringify({ signedRequest: b64(forged.signedRequest), signature: b64(forged.signature) }));
    expect(res.status).toBe(401);
    const err = JSON.parse(res.body) as { code: string; message: string };
    expect(err.code).toBe('unauthenticated');
    expect(err.message).toContain('does not verify against the key of analyst "bob"');
    const bob = w.fed.client('bob');
    const auditor = w.fed.client('auditor');
    try {
      expect((await bob.getBudget()).spentRho).toBe(0);
      await expect(auditor.getResult(queryId)).rejects.toThrow(/no query with id/);
    } finally {
      bob.close();
      auditor.close();
    }
  });

  it('reads are bound to their request, their analyst and the clock: replayed for another query, for another analyst\'s query, or stale, they are refused', async () => {
    const bob = w.fed.client('bob');
    const bobs = await bob.submit({ kind: 'count', columns: [], filter: [] }, { privacy: { rho: 0.05 } });
    bob.close();
    const mine = randomUUID();
    // alice's signature over GetResult(mine), sent with bob's query id: the request bytes differ.
    const headers = readHeaders('alice', 'GetResult', GetResultRequest.encode({ queryId: mine }).finish());
    let r = await connect('GetResult', JSON.stringify({ queryId: bobs.queryId }), headers);
    expect(r.status).toBe(401);
    expect(((await r.json()) as { message: string }).message).toContain('the read\'s signature does not verify against the key of analyst "alice"');
    // A valid read by alice of bob's query: authenticated, not authorised.
    r = await connect('GetResult', JSON.stringify({ queryId: bobs.queryId }), readHeaders('alice', 'GetResult', GetResultRequest.encode({ queryId: bobs.queryId }).finish()));
    expect(r.status).toBe(403);
    expect(await r.json()).toMatchObject({ code: 'permission_denied', message: expect.stringContaining('belongs to another analyst') });
    // A read signed for GetResult used on WatchQuery (method bound): refused on the stream's end message.
    const env = Buffer.from(JSON.stringify({ queryId: bobs.queryId }));
    const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, env.length]), env]);
    r = await fetch(`${w.url}blindsum.v1.AnalystService/WatchQuery`, { method: 'POST', headers: { 'content-type': 'application/connect+json', ...readHeaders('bob', 'GetResult', GetResultRequest.encode({ queryId: bobs.queryId }).finish()) }, body: framed });
    const bytes = new Uint8Array(await r.arrayBuffer());
    expect(bytes[0]).toBe(2); // the end-of-stream envelope, first and only
    expect(JSON.parse(Buffer.from(bytes.subarray(5)).toString())).toMatchObject({ error: { code: 'unauthenticated' } });
    // A read signed 10 minutes ago.
    r = await connect('GetBudget', '{}', readHeaders('bob', 'GetBudget', new Uint8Array(0), String(Date.now() - 600_000)));
    expect(r.status).toBe(401);
    expect(((await r.json()) as { message: string }).message).toContain('timestamp is not within');
  });

  it('malformed, oversized and mistyped Connect requests get a clear 4xx quoting a short prefix, and the endpoint keeps serving', async () => {
    const garbage = `{"queryId": ${'x'.repeat(10_000)}`;
    let r = await connect('GetResult', garbage);
    expect(r.status).toBe(400);
    const bad = (await r.json()) as { code: string; message: string };
    expect(bad.code).toBe('invalid_argument');
    expect(bad.message).toMatch(/^the request body is not valid JSON: /);
    expect(bad.message.length).toBeLessThan(200);
    r = await connect('GetResult', '[1, 2]');
    expect(r.status).toBe(400);
    r = await connect('GetBudget', JSON.stringify({ analyst: 'a'.repeat(20_000) }));
    expect(r.status).toBe(400);
    expect(((await r.json()) as { message: string }).message).toContain('larger than this method\'s limit of 16384 bytes');
    r = await connect('SubmitQuery', JSON.stringify({ signedRequest: 'A'.repeat(5 * 1024 * 1024) }));
    expect(r.status).toBe(400);
    r = await connect('SubmitQuery', JSON.stringify({ signedRequest: 'AAAA', signature: 'AAAA' }));
    expect(r.status).toBe(401); // the same check as over gRPC: no analyst of the roster signed it
    expect(((await r.json()) as { message: string }).message).toContain('is not in the analyst roster');
    r = await connect('ListParties', '{}', {}, 'text/plain');
    expect(r.status).toBe(415);
    r = await connect('DropTables', '{}');
    expect(r.status).toBe(501);
    r = await fetch(`${w.url}blindsum.v1.AnalystService/WatchQuery`, { method: 'POST', headers: { 'content-type': 'application/connect+json' }, body: '{"queryId": "x"}' });
    const bytes = new Uint8Array(await r.arrayBuffer());
    expect(JSON.parse(Buffer.from(bytes.subarray(5)).toString())).toMatchObject({ error: { code: 'invalid_argument' } });
    // Many bad requests at once, then a good one.
    await Promise.all(Array.from({ length: 40 }, (_x, i) => connect('GetResult', `{"q": ${i}`)));
    r = await connect('ListParties', '{}');
    expect(r.status).toBe(200);
    expect(((await r.json()) as { federation: string }).federation).toBe('demo');
  });

  it('static files: traversal, encoded traversal, NUL and directory listing are refused; a rebound Host is refused; the operator status is off without --web-operator', async () => {
    for (const path of ['/../package.json', '/%2e%2e/%2e%2e/package.json', '/analyst/..%2f..%2f..%2fpackage.json', '/analyst/%00', '/analyst/.hidden', '/%2e%2e%5cpackage.json']) {
      const r = await rawRequest(w.url, 'GET', path);
      expect(r.status, path).toBeGreaterThanOrEqual(400);
      expect(r.body, path).not.toContain('"name": "blindsum"');
      expect(r.headers['content-security-policy'], path).toContain("default-src 'self'");
    }
    expect((await rawRequest(w.url, 'GET', '/lib/')).status).toBe(404); // no folder without an index, no listing
    expect((await rawRequest(w.url, 'POST', '/analyst/', { 'content-type': 'text/plain' }, 'x')).status).toBe(405);
    // DNS rebinding: a request addressed to another site's name, at the loopback console.
    const rebound = await rawRequest(w.url, 'POST', '/blindsum.v1.AnalystService/ListParties', { host: 'evil.example:80', 'content-type': 'application/json' }, '{}');
    expect(rebound.status).toBe(421);
    expect((await rawRequest(w.url, 'GET', '/analyst/', { host: 'evil.example' })).status).toBe(421);
    const op = await rawRequest(w.url, 'GET', '/operator/status');
    expect(op.status).toBe(404);
    expect(op.body).toContain('--web-operator');
  });
});
