/**
 * Transport security. Loopback demos and tests run without TLS; a real deployment gives the
 * aggregator a certificate (--tls-cert/--tls-key) and parties/analysts the CA that signed it
 * (--tls-ca). Party identity does not rely on TLS: parties prove their Ed25519 roster key.
 */
import { ChannelCredentials, credentials, ServerCredentials } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { ConfigError } from './roster.ts';

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new ConfigError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

export function serverCredentials(certPath?: string, keyPath?: string): ServerCredentials {
  if (certPath === undefined && keyPath === undefined) return ServerCredentials.createInsecure();
  if (certPath === undefined || keyPath === undefined) throw new ConfigError('--tls-cert and --tls-key go together');
  return ServerCredentials.createSsl(null, [{ cert_chain: read(certPath, 'TLS certificate'), private_key: read(keyPath, 'TLS key') }], false);
}

export function channelCredentials(caPath?: string): ChannelCredentials {
  if (caPath === undefined) return credentials.createInsecure();
  return credentials.createSsl(read(caPath, 'TLS CA certificate'));
}
