/**
 * The standard gRPC services that load balancers, Kubernetes probes and grpcurl expect, from the
 * grpc-node project's own packages (docs/dependencies.md):
 *   - grpc.health.v1.Health (`grpc-health-check`): Check and Watch. "" is the whole server;
 *     each blindsum service has its own name; `blindsum.v1.ckks` is SERVING only once the
 *     federation's collective CKKS key is ready (NOT_SERVING while the ceremony runs).
 *   - server reflection v1 and v1alpha (`@grpc/reflection`), from the repository's own .proto
 *     (loaded with @grpc/proto-loader at start: the generated ts-proto code carries no descriptors).
 */
import { fileURLToPath } from 'node:url';
import type { Server } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';

export type ServingStatus = 'SERVING' | 'NOT_SERVING';

const PROTO_ROOT = fileURLToPath(new URL('../../proto/', import.meta.url));

/** Health names of the aggregator's services. */
export const HEALTH = {
  server: '',
  analyst: 'blindsum.v1.AnalystService',
  partyGateway: 'blindsum.v1.PartyGatewayService',
  ckks: 'blindsum.v1.ckks',
} as const;

export interface StandardServices {
  /** Sets a service's health status (a no-op when unchanged; Watch streams see changes). */
  setStatus(service: string, status: ServingStatus): void;
}

/** Adds health (with every name in `initial`) and reflection (v1, v1alpha) to `server`. */
export function addStandardServices(server: Server, initial: Record<string, ServingStatus>): StandardServices {
  const health = new HealthImplementation({ ...initial });
  health.addToServer(server);
  const definition = loadSync('blindsum/v1/blindsum.proto', { includeDirs: [PROTO_ROOT], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  new ReflectionService(definition).addToServer(server);
  const current = new Map<string, ServingStatus>(Object.entries(initial));
  return {
    setStatus(service, status) {
      if (current.get(service) === status) return;
      current.set(service, status);
      health.setStatus(service, status);
    },
  };
}
