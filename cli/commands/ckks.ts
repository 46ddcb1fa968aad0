/** CKKS commands: the analyst's own key pair, and the federation's collective public key. */
import { writeFileSync } from 'node:fs';
import { CKKS_PARAMS, sha256Hex } from '../../services/common/ckks.ts';
import { analystClient, TLS_CLIENT_HELP, TLS_CLIENT_OPTIONS, str, type Command } from '../args.ts';

export const analystKeygen: Command = {
  name: 'analyst-keygen',
  summary: 'create the analyst\'s CKKS key pair: results of --backend ckks queries are encrypted to it (secret file mode 0600)',
  usage: 'blindsum analyst-keygen --out analyst.ckks.key [--params N8192]',
  options: { out: { type: 'string' }, params: { type: 'string' } },
  help: { out: 'key file to create (refuses to overwrite); the public key also goes to OUT.pub', params: `CKKS parameter set (default ${CKKS_PARAMS.name}, the federation's)` },
  async run(v) {
    const out = str(v['out'], 'out', true);
    const { generateAnalystKey, writeAnalystKeyFile } = await import('../../client/ckks-analyst.ts');
    const key = await generateAnalystKey(str(v['params'], 'params') ?? CKKS_PARAMS.name);
    writeAnalystKeyFile(out, key);
    process.stdout.write(`wrote ${out} (secret, mode 0600) and ${out}.pub; public key SHA-256 ${sha256Hex(key.publicKey)}\nuse it with: blindsum query --backend ckks --ckks-key ${out} …\n`);
    return 0;
  },
};

export const collectiveKey: Command = {
  name: 'collective-key',
  summary: 'show the federation\'s collective CKKS public key (from the key ceremony) and its SHA-256',
  usage: 'blindsum collective-key --aggregator HOST:PORT [--out public-key.bin] [--json]',
  options: { aggregator: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' }, ...TLS_CLIENT_OPTIONS },
  help: { aggregator: 'aggregator address (default 127.0.0.1:7070)', out: 'write the SEAL PublicKey bytes to this file', json: 'print JSON', ...TLS_CLIENT_HELP },
  async run(v) {
    const client = analystClient(v, false); // a public call: no analyst key needed
    try {
      const k = await client.getCollectiveKey();
      const out = str(v['out'], 'out');
      if (out && k.status === 'ready') writeFileSync(out, k.publicKey);
      const summary = { status: k.status, message: k.message, ceremonyId: k.ceremonyId, params: k.params, publicKeySha256: k.publicKeySha256, publicKeyBytes: k.publicKey.length, rosterDigest: k.rosterDigest, threshold: k.threshold, parties: k.parties, createdAtMs: Number(k.createdAtMs) };
      if (v['json'] === true) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      else if (k.status !== 'ready') process.stdout.write(`collective CKKS key: ${k.status}${k.message ? ` — ${k.message}` : ''}\n`);
      else process.stdout.write(`collective CKKS key (${k.params}, ${k.threshold}-of-${k.parties.length}: ${k.parties.join(', ')}): SHA-256 ${k.publicKeySha256}\n  ceremony ${k.ceremonyId}, ${new Date(Number(k.createdAtMs)).toISOString()}; roster ${k.rosterDigest.slice(0, 16)}…${out ? `; written to ${out}` : ''}\n`);
      return k.status === 'ready' ? 0 : 1;
    } finally {
      client.close();
    }
  },
};
