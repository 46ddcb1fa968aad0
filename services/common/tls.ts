/**
 * Transport security. Loopback demos and tests run without TLS; a real deployment gives the
 * aggregator a certificate (--tls-cert/--tls-key) and parties/analysts the CA that signed it
 * (--tls-ca). Optional mutual TLS: with --tls-client-ca the aggregator requires every client
 * (party, analyst, probe) to present a certificate signed by that CA (--tls-cert/--tls-key on the
 * client), so only the consortium's machines reach the gRPC services at all. Party identity does
 * not rely on TLS: parties still prove their Ed25519 roster key, analysts still sign each request.
 * Certificates: `blindsum certs` (cli/commands/certs.ts) or the openssl recipe in the README.
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

/** The aggregator's TLS files: its certificate and key, and optionally the CA its clients' certificates must chain to. */
export interface ServerTlsFiles {
  certPath?: string;
  keyPath?: string;
  /** Mutual TLS: require and verify a client certificate signed by this CA. */
  clientCaPath?: string;
}

export function serverCredentials(files: ServerTlsFiles = {}): ServerCredentials {
  const { certPath, keyPath, clientCaPath } = files;
  if (certPath === undefined && keyPath === undefined) {
    if (clientCaPath !== undefined) throw new ConfigError('--tls-client-ca needs TLS: give the aggregator --tls-cert and --tls-key too');
    return ServerCredentials.createInsecure();
  }
  if (certPath === undefined || keyPath === undefined) throw new ConfigError('--tls-cert and --tls-key go together');
  const pair = { cert_chain: read(certPath, 'TLS certificate'), private_key: read(keyPath, 'TLS key') };
  if (clientCaPath === undefined) return ServerCredentials.createSsl(null, [pair], false);
  return ServerCredentials.createSsl(read(clientCaPath, 'TLS client CA certificate'), [pair], true);
}

/** A client's TLS files: the CA of the aggregator's certificate, and (mutual TLS) its own certificate and key. */
export interface ClientTlsFiles {
  caPath?: string;
  certPath?: string;
  keyPath?: string;
}

export function channelCredentials(files: ClientTlsFiles = {}): ChannelCredentials {
  const { caPath, certPath, keyPath } = files;
  if ((certPath === undefined) !== (keyPath === undefined)) throw new ConfigError('--tls-cert and --tls-key go together (this client\'s certificate and its key, for an aggregator that requires client certificates)');
  if (caPath === undefined) {
    if (certPath !== undefined) throw new ConfigError('--tls-cert needs --tls-ca: a client certificate is only sent over TLS, and TLS needs the CA of the aggregator\'s certificate');
    return credentials.createInsecure();
  }
  const ca = read(caPath, 'TLS CA certificate');
  if (certPath === undefined) return credentials.createSsl(ca);
  return credentials.createSsl(ca, read(keyPath!, 'TLS key'), read(certPath, 'TLS certificate'));
}

/** What a client knows about its own TLS set-up when explaining a failure. */
export interface TlsContext {
  /** The client speaks TLS (--tls-ca given). */
  tls: boolean;
  /** The client presents a certificate (--tls-cert given). */
  clientCert: boolean;
}

export interface TlsFailure {
  /** One sentence: the likely cause and the fix. */
  sentence: string;
  /**
   * True when the failure names its cause (a TLS alert, a verification error); false for a
   * connection cut during the handshake, which TLS 1.3 leaves ambiguous (the server checks the
   * client's certificate after the client has finished, and may reset the socket before its alert
   * is read), so a party treats it as permanent only when it repeats.
   */
  certain: boolean;
}

const CLIENT_CERT_FIX = 'a certificate signed by the CA of the aggregator\'s --tls-client-ca, unexpired and made for a client (blindsum certs --client NAME)';

/**
 * A TLS failure as one sentence with its likely cause and fix, from gRPC's error text; null when
 * the failure is not about TLS. `who` is "client" (analyst, probe) or "party".
 */
export function explainTlsFailure(details: string, ctx: TlsContext, who: 'client' | 'party' = 'client'): TlsFailure | null {
  const raw = details.replace(/\s+/g, ' ').slice(0, 100);
  if (/wrong version number|WRONG_VERSION_NUMBER|packet length too long/i.test(details)) {
    return { certain: true, sentence: `TLS mismatch: this ${who} speaks TLS but the aggregator answers in plaintext (drop --tls-ca, or start the aggregator with --tls-cert/--tls-key), or the other way round` };
  }
  if (/certificate required|alert number 116/i.test(details)) {
    return { certain: true, sentence: `the aggregator requires a client certificate (mutual TLS) and this ${who} sent none: give --tls-cert and --tls-key, ${CLIENT_CERT_FIX}` };
  }
  if (/alert (unknown ca|bad certificate|unsupported certificate|certificate (expired|revoked|unknown)|decrypt error|handshake failure)|alert number (40|42|43|44|45|46|48|51)\b/i.test(details)) {
    return { certain: true, sentence: `the aggregator refused this ${who}'s TLS certificate (--tls-cert): it must be ${CLIENT_CERT_FIX} (${raw})` };
  }
  if (/altnames|does not match certificate|ERR_TLS_CERT_ALTNAME/i.test(details)) {
    return { certain: true, sentence: `the aggregator's TLS certificate is not valid for the host name in --aggregator (its subjectAltName must list it: blindsum certs --server NAME --host HOST) (${raw})` };
  }
  if (/certificate|self[- ]signed|unable to verify|unable to get (local )?issuer|CERT_/i.test(details)) {
    return { certain: true, sentence: `the aggregator's TLS certificate does not verify against --tls-ca (is --tls-ca the CA that signed it? is it expired?) (${raw})` };
  }
  if (/No connection established/i.test(details) && /ECONNRESET|Failed to connect|socket hang up|disconnected before secure TLS/i.test(details)) {
    if (!ctx.tls) return { certain: false, sentence: `the aggregator closed the connection at once: most likely it speaks TLS and this ${who} does not (give --tls-ca, and --tls-cert/--tls-key if it requires client certificates)` };
    if (ctx.clientCert) return { certain: false, sentence: `the aggregator closed the connection during the TLS handshake: most likely it refused this ${who}'s certificate (--tls-cert must be ${CLIENT_CERT_FIX})` };
    return { certain: false, sentence: `the aggregator closed the connection during the TLS handshake: most likely it requires a client certificate (mutual TLS): give --tls-cert and --tls-key, ${CLIENT_CERT_FIX}` };
  }
  return null;
}
