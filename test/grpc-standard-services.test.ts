/**
 * The aggregator answers the standard gRPC services as any gRPC tool expects them, asked by a
 * client built from the public .proto files (not blindsum's generated code): grpc.health.v1
 * (Check: the server and each service SERVING, the CKKS backend NOT_SERVING until its key
 * ceremony has run, an unknown name NOT_FOUND) and server reflection v1 and v1alpha (the service
 * list, and the descriptor of AnalystService).
 */
import { credentials, loadPackageDefinition, status, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveAggregatorConfig } from '../services/aggregator/config.ts';
import { createAggregator, type Aggregator } from '../services/aggregator/server.ts';
import { writeFederationFiles } from './analyst-harness.ts';

const require = createRequire(import.meta.url);
const healthProto = (require('grpc-health-check') as { protoPath: string }).protoPath;
const reflectionDir = join(require.resolve('@grpc/reflection'), '../../proto');

type Ctor = new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => Client & Record<string, (...a: unknown[]) => unknown>;
function serviceCtor(protoFile: string, includeDirs: string[], path: string[]): Ctor {
  const pkg = loadPackageDefinition(loadSync(protoFile, { includeDirs, keepCase: true, defaults: true, enums: String })) as Record<string, unknown>;
  return path.reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], pkg) as Ctor;
}

let dir: string;
let agg: Aggregator;
let address: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blindsum-standard-'));
  writeFederationFiles(dir);
  agg = createAggregator(resolveAggregatorConfig({
    listen: '127.0.0.1:0', rosterPath: join(dir, 'roster.json'), schemaPath: 'examples/pbc/schema.json', dataDir: join(dir, 'agg'), keyPath: join(dir, 'aggregator.key'),
    analystsPath: join(dir, 'analysts.json'), quiet: true, ckks: true,
  }), () => {});
  address = `127.0.0.1:${await agg.start()}`;
});

afterAll(async () => {
  await agg?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('standard gRPC services on the aggregator', () => {
  it('grpc.health.v1.Health/Check: the server and each service SERVING, CKKS NOT_SERVING before its ceremony, an unknown name NOT_FOUND', async () => {
    const Health = serviceCtor(healthProto, [], ['grpc', 'health', 'v1', 'Health']);
    const c = new Health(address, credentials.createInsecure());
    const check = (service: string): Promise<string> =>
      new Promise((resolve, reject) => (c['Check'] as (r: unknown, cb: (e: ServiceError | null, res: { status: string }) => void) => void)({ service }, (e, res) => (e ? reject(e) : resolve(String(res.status)))));
    try {
      expect(await check('')).toBe('SERVING');
      expect(await check('blindsum.v1.AnalystService')).toBe('SERVING');
      expect(await check('blindsum.v1.PartyGatewayService')).toBe('SERVING');
      expect(await check('blindsum.v1.ckks')).toBe('NOT_SERVING'); // no party connected: no collective key yet
      const e = await check('no.such.Service').catch((x: ServiceError) => x);
      expect((e as ServiceError).code).toBe(status.NOT_FOUND);
    } finally {
      c.close();
    }
  });

  for (const version of ['v1', 'v1alpha'] as const) {
    it(`server reflection ${version}: lists the services and returns AnalystService's file descriptor`, async () => {
      const Reflection = serviceCtor(`grpc/reflection/${version}/reflection.proto`, [reflectionDir], ['grpc', 'reflection', version, 'ServerReflection']);
      const c = new Reflection(address, credentials.createInsecure());
      try {
        const ask = (req: Record<string, unknown>): Promise<Record<string, unknown>> =>
          new Promise((resolve, reject) => {
            const call = (c['ServerReflectionInfo'] as () => NodeJS.ReadWriteStream & { end(): void; write(x: unknown): void })();
            call.on('data', (d: Record<string, unknown>) => resolve(d));
            call.on('error', reject);
            call.write(req);
            call.end();
          });
        const list = await ask({ list_services: '' });
        const names = ((list['list_services_response'] as { service: { name: string }[] }).service).map((s) => s.name);
        expect(names).toEqual(expect.arrayContaining(['blindsum.v1.AnalystService', 'blindsum.v1.PartyGatewayService']));
        const file = await ask({ file_containing_symbol: 'blindsum.v1.AnalystService' });
        const protos = (file['file_descriptor_response'] as { file_descriptor_proto: Uint8Array[] }).file_descriptor_proto;
        expect(protos.length).toBeGreaterThan(0);
        expect(Buffer.concat(protos.map((p) => Buffer.from(p))).toString('latin1')).toContain('SubmitQuery');
      } finally {
        c.close();
      }
    });
  }
});
