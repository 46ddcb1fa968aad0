import { readFileSync, writeFileSync } from 'node:fs';
import { toHex } from '../../crypto/bytes.ts';
import { writeNewIdentityFile } from '../../services/common/keys.ts';
import { ConfigError, parseRoster, validatePartyId } from '../../services/common/roster.ts';
import { int, str, UsageError, type Command } from '../args.ts';

export const keygen: Command = {
  name: 'keygen',
  summary: "create a party's Ed25519 identity key (file mode 0600) and print its roster entry",
  usage: 'blindsum keygen --id hospital-a --out hospital-a.key',
  options: { id: { type: 'string' }, out: { type: 'string' } },
  help: { id: 'party id (lowercase letters, digits, . _ -)', out: 'key file to create (refuses to overwrite); the public entry goes to OUT.pub.json' },
  async run(v) {
    const id = validatePartyId(str(v['id'], 'id', true));
    const out = str(v['out'], 'out', true);
    const { identity } = writeNewIdentityFile(out, id);
    const entry = { id, publicKey: toHex(identity.publicKey) };
    writeFileSync(`${out}.pub.json`, JSON.stringify(entry, null, 2) + '\n');
    process.stdout.write(`${JSON.stringify(entry)}\nwrote ${out} (secret, mode 0600) and ${out}.pub.json (public roster entry)\n`);
    return 0;
  },
};

export const roster: Command = {
  name: 'roster',
  summary: 'write a federation roster from the parties\' public entries (*.pub.json)',
  usage: 'blindsum roster --federation NAME --threshold T --aggregator aggregator.key.pub.json --out roster.json a.key.pub.json b.key.pub.json …',
  options: { federation: { type: 'string' }, threshold: { type: 'string' }, aggregator: { type: 'string' }, out: { type: 'string' } },
  help: {
    federation: 'federation name', threshold: 'secure-aggregation threshold t (2 ≤ t ≤ parties; default: majority)', out: 'roster file to write',
    aggregator: "the aggregator's public entry (blindsum keygen --id NAME-aggregator --out aggregator.key writes aggregator.key.pub.json); it signs transcript heads and receipts",
  },
  allowPositionals: true,
  async run(v, files) {
    if (files.length < 2) throw new UsageError('give at least two public entry files (from blindsum keygen)');
    const read = (f: string): unknown => {
      try {
        return JSON.parse(readFileSync(f, 'utf8')) as unknown;
      } catch (e) {
        throw new ConfigError(`cannot read ${f}: ${(e as Error).message}`);
      }
    };
    const parties = files.map(read);
    const aggregatorFile = str(v['aggregator'], 'aggregator');
    if (aggregatorFile === undefined) {
      throw new UsageError('give --aggregator FILE.pub.json: the aggregator\'s public entry (create its key with blindsum keygen --id NAME-aggregator --out aggregator.key)');
    }
    const threshold = int(v['threshold'], 'threshold', Math.floor(files.length / 2) + 1, 2, files.length);
    const r = { federation: str(v['federation'], 'federation', true), threshold, parties, aggregator: read(aggregatorFile) };
    parseRoster(r, 'roster');
    writeFileSync(str(v['out'], 'out', true), JSON.stringify(r, null, 2) + '\n');
    process.stdout.write(`wrote roster with ${files.length} parties, threshold ${threshold}\n`);
    return 0;
  },
};
