/**
 * gen/ must match proto/: every message of the .proto (parsed independently with protobufjs)
 * exists in the generated module with exactly its fields (oneofs as one union field), and every
 * service exposes exactly its RPCs. Forgetting `npm run gen` after editing the proto fails here.
 * (Byte-for-byte regeneration needs the buf CLI, which `npm run gen` fetches with npx; the npm
 * registry mirror used by CI lacks buf's non-Linux platform packages, so it is not a dependency.)
 */
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import * as gen from '../gen/blindsum/v1/blindsum.ts';

const root = protobuf.loadSync('proto/blindsum/v1/blindsum.proto');
const pkg = root.lookup('blindsum.v1') as protobuf.Namespace;
const camel = (s: string): string => s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
const lowerFirst = (s: string): string => s[0]!.toLowerCase() + s.slice(1);

const messages = pkg.nestedArray.filter((n): n is protobuf.Type => n instanceof protobuf.Type);
const services = pkg.nestedArray.filter((n): n is protobuf.Service => n instanceof protobuf.Service);

describe('generated gRPC code matches proto/ (run npm run gen after editing the proto)', () => {
  it('finds the messages and services', () => {
    expect(messages.length).toBeGreaterThan(20);
    expect(services.map((s) => s.name).sort()).toEqual(['AnalystService', 'PartyGatewayService']);
  });

  for (const m of messages) {
    it(`message ${m.name} has exactly the proto's fields`, () => {
      const codec = (gen as Record<string, unknown>)[m.name] as { fromPartial?: (x: object) => object } | undefined;
      expect(codec?.fromPartial, `gen/ lacks message ${m.name}`).toBeTypeOf('function');
      const expected = new Set<string>();
      for (const f of m.fieldsArray) expected.add(camel(f.partOf ? f.partOf.name : f.name));
      expect(Object.keys(codec!.fromPartial!({})).sort()).toEqual([...expected].sort());
    });
  }

  for (const s of services) {
    it(`service ${s.name} has exactly the proto's RPCs`, () => {
      const def = (gen as Record<string, unknown>)[`${s.name}Service`] as Record<string, { path: string }>;
      expect(Object.keys(def).sort()).toEqual(s.methodsArray.map((r) => lowerFirst(r.name)).sort());
      for (const r of s.methodsArray) expect(def[lowerFirst(r.name)]!.path).toBe(`/blindsum.v1.${s.name}/${r.name}`);
    });
  }
});
