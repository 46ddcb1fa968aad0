import { readFileSync, writeFileSync } from 'node:fs';
import { writeIdentityWithPublicEntry } from '../../services/common/keys.ts';
import { ConfigError, minimumThreshold, parseRoster, validatePartyId } from '../../services/common/roster.ts';
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
    const { entry } = writeIdentityWithPublicEntry(out, id);
    process.stdout.write(`${JSON.stringify(entry)}\nwrote ${out} (secret, mode 0600) and ${out}.pub.json (public roster entry)\n`);
    return 0;
  },
};

export const roster: Command = {
  name: 'roster',
  summary: 'write a federation roster from the parties\' public entries (*.pub.json)',
  usage: 'blindsum roster --federation NAME [--threshold T] [--collusion C] --operator operator.key.pub.json --aggregator aggregator.key.pub.json --out roster.json a.key.pub.json b.key.pub.json …',
  options: { federation: { type: 'string' }, threshold: { type: 'string' }, collusion: { type: 'string' }, out: { type: 'string' }, operator: { type: 'string' }, aggregator: { type: 'string' } },
  help: {
    federation: 'federation name',
    threshold: 'threshold t: parties that must stay online for a query to finish, and CKKS decryptors; needs 2t > n + c (default: the smallest such t)',
    collusion: 'c: how many parties may collude with the aggregator (default 0); each party\'s DP noise is sized for t − c honest contributors (docs/threat-model.md)',
    out: 'roster file to write',
    operator: 'public entry of the operator key that signs analysts.json (blindsum keygen --id operator --out operator.key → operator.key.pub.json); the aggregator needs it',
    aggregator: 'public entry of the aggregator\'s identity key (signs transcript heads and receipts)',
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
    const operatorFile = str(v['operator'], 'operator');
    const n = files.length;
    const collusion = int(v['collusion'], 'collusion', 0, 0, n - 1);
    const threshold = int(v['threshold'], 'threshold', minimumThreshold(n, collusion), 2, n);
    const r = { federation: str(v['federation'], 'federation', true), threshold, collusion, parties, aggregator: read(aggregatorFile), ...(operatorFile !== undefined ? { operator: read(operatorFile) } : {}) };
    parseRoster(r, 'roster');
    writeFileSync(str(v['out'], 'out', true), JSON.stringify(r, null, 2) + '\n');
    process.stdout.write(
      `wrote roster with ${n} parties, threshold t = ${threshold}, collusion c = ${collusion}: a query needs ${threshold} parties online (${n - threshold} may drop out); ` +
        `an aggregator colluding with up to ${collusion} part${collusion === 1 ? 'y' : 'ies'} cannot unmask or decrypt one party's input, and every release carries the full DP noise from the honest contributors\n`,
    );
    return 0;
  },
};
