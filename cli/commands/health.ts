/**
 * `blindsum health`: asks the aggregator's standard gRPC health service (grpc.health.v1.Health/Check)
 * through the grpc-node project's own client definition (grpc-health-check), as a load balancer or
 * a container health check would. Exit 0 SERVING, 1 anything else or unreachable.
 */
import { makeClientConstructor, type Client, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { explainTransport } from '../../client/analyst.ts';
import { HEALTH } from '../../services/common/standard-services.ts';
import { channelCredentials } from '../../services/common/tls.ts';
import { int, str, TLS_CLIENT_HELP, TLS_CLIENT_OPTIONS, tlsClientFiles, UsageError, type Command } from '../args.ts';

type CheckClient = Client & {
  check(req: { service: string }, opts: { deadline: number }, cb: (e: ServiceError | null, res?: { status: string | number }) => void): void;
};

const HealthClient = makeClientConstructor(healthService, 'grpc.health.v1.Health') as unknown as new (...a: ConstructorParameters<typeof Client>) => CheckClient;

const STATUS_NAMES = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

export const health: Command = {
  name: 'health',
  summary: 'ask the aggregator\'s gRPC health service (grpc.health.v1.Health/Check); exit 0 when SERVING (container health checks)',
  usage: 'blindsum health [--aggregator HOST:PORT] [--service NAME] [--tls-ca ca.pem [--tls-cert probe.pem --tls-key probe.key]] [--timeout-ms 5000]',
  options: { aggregator: { type: 'string' }, service: { type: 'string' }, 'timeout-ms': { type: 'string' }, quiet: { type: 'boolean' }, ...TLS_CLIENT_OPTIONS },
  help: {
    aggregator: 'aggregator address (default 127.0.0.1:7070)',
    service: `health name to check: "" the whole server (default), ${HEALTH.analyst}, ${HEALTH.partyGateway}, or ${HEALTH.ckks} (SERVING once the collective CKKS key is ready)`,
    'timeout-ms': 'give up after this many ms (default 5000)', quiet: 'print nothing; the exit code says it',
    ...TLS_CLIENT_HELP,
  },
  async run(v) {
    const address = str(v['aggregator'], 'aggregator') ?? '127.0.0.1:7070';
    if (!/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(address)) throw new UsageError(`--aggregator: expected host:port, got ${JSON.stringify(address.slice(0, 80))}`);
    const service = str(v['service'], 'service') ?? HEALTH.server;
    const timeoutMs = int(v['timeout-ms'], 'timeout-ms', 5000, 100, 600_000);
    const tls = tlsClientFiles(v);
    const client = new HealthClient(address, channelCredentials({
      ...(tls.tlsCaPath !== undefined ? { caPath: tls.tlsCaPath } : {}), ...(tls.tlsCertPath !== undefined ? { certPath: tls.tlsCertPath } : {}), ...(tls.tlsKeyPath !== undefined ? { keyPath: tls.tlsKeyPath } : {}),
    }));
    const say = (line: string): void => {
      if (v['quiet'] !== true) process.stdout.write(line + '\n');
    };
    const sayErr = (line: string): void => {
      if (v['quiet'] !== true) process.stderr.write(line + '\n');
    };
    try {
      const status = await new Promise<string>((resolve, reject) => {
        client.check({ service }, { deadline: Date.now() + timeoutMs }, (e, res) => (e ? reject(e) : resolve(typeof res!.status === 'number' ? STATUS_NAMES[res!.status] ?? String(res!.status) : res!.status)));
      });
      say(`${address}${service ? ` ${service}` : ''}: ${status}`);
      return status === 'SERVING' ? 0 : 1;
    } catch (e) {
      const err = e as ServiceError;
      if (err.code === 5) sayErr(`${address}: no health status for the service ${JSON.stringify(service)} (NOT_FOUND)`);
      else sayErr(`${address}: not reachable: ${explainTransport(err.code, err.details || err.message, { tls: tls.tlsCaPath !== undefined, clientCert: tls.tlsCertPath !== undefined })}`);
      return 1;
    } finally {
      client.close();
    }
  },
};
