/**
 * Analyst identities: `blindsum analyst keygen` (an analyst's Ed25519 key), `blindsum analyst
 * roster` (the operator-signed analysts.json) and `blindsum analyst ckks-keygen` (the analyst's
 * CKKS key pair, the same as the older `blindsum analyst-keygen`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { keyFingerprint, loadAnalystRoster, signAnalystRoster, writeAnalystRosterFile, type AnalystRole } from '../../services/common/analysts.ts';
import { loadIdentityFile, writeIdentityWithPublicEntry } from '../../services/common/keys.ts';
import { ConfigError, loadRoster, validatePartyId } from '../../services/common/roster.ts';
import { ANALYST_KEY_ENV, int, str, UsageError, type Command } from '../args.ts';
import { analystKeygen as ckksKeygen } from './ckks.ts';

export const analystIdentityKeygen: Command = {
  name: 'analyst keygen',
  summary: "create an analyst's (or auditor's) Ed25519 identity key (mode 0600) and its public entry for analysts.json",
  usage: 'blindsum analyst keygen --id alice --out alice.key',
  options: { id: { type: 'string' }, out: { type: 'string' } },
  help: { id: 'analyst id (lowercase letters, digits, . _ -)', out: 'key file to create (refuses to overwrite); the public entry goes to OUT.pub.json' },
  async run(v) {
    const id = validatePartyId(str(v['id'], 'id', true), 'analyst id');
    const out = str(v['out'], 'out', true);
    const { identity } = writeIdentityWithPublicEntry(out, id);
    process.stdout.write(
      `wrote ${out} (secret, mode 0600) and ${out}.pub.json (public entry; key ${keyFingerprint(identity.identity.publicKey)}…)\n` +
        `give ${out}.pub.json to the federation operator (blindsum analyst roster … ${out}.pub.json:analyst:BUDGET), then sign in with:\n` +
        `  blindsum query --analyst-key ${out} …    or    export ${ANALYST_KEY_ENV}=${out}\n`,
    );
    return 0;
  },
};

/** FILE[:ROLE[:BUDGET]] (role analyst by default, budget 1 for analysts and 0 for auditors). */
function parseEntry(arg: string): { file: string; role: AnalystRole; budgetRho: number } {
  const m = /^(.+?)(?::(analyst|auditor))?(?::([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?))?$/.exec(arg);
  if (!m) throw new UsageError(`expected FILE.pub.json[:analyst|auditor[:BUDGET_RHO]], got ${JSON.stringify(arg)}`);
  const role = (m[2] ?? 'analyst') as AnalystRole;
  const budgetRho = m[3] !== undefined ? Number(m[3]) : role === 'analyst' ? 1 : 0;
  if (!(Number.isFinite(budgetRho) && budgetRho >= 0 && budgetRho <= 1000)) throw new UsageError(`${arg}: the budget must be a zCDP rho in [0, 1000]`);
  return { file: m[1]!, role, budgetRho };
}

/** The version in an existing analysts.json (unverified; only to default --version to the next one). */
function existingVersion(path: string): number {
  if (!existsSync(path)) return 0;
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as { body?: string };
    const v = (JSON.parse(String(o.body)) as { version?: unknown }).version;
    return typeof v === 'number' && Number.isSafeInteger(v) ? v : 0;
  } catch {
    return 0;
  }
}

export const analystRoster: Command = {
  name: 'analyst roster',
  summary: 'write analysts.json: the analysts\' and auditors\' keys, roles and budgets, signed with the operator key',
  usage: 'blindsum analyst roster --operator-key operator.key --federation NAME [--version N] --out analysts.json alice.key.pub.json[:analyst[:RHO]] bob.key.pub.json:auditor …',
  options: { 'operator-key': { type: 'string' }, federation: { type: 'string' }, version: { type: 'string' }, out: { type: 'string' }, roster: { type: 'string' } },
  help: {
    'operator-key': 'the operator\'s Ed25519 key (blindsum keygen --id operator --out operator.key; named in roster.json with blindsum roster --operator)',
    federation: 'federation name (as in roster.json)', version: 'roster version: must increase with every change (default: the version in --out plus 1, or 1)',
    out: 'file to write', roster: 'roster.json to check the result against (its operator key and federation)',
  },
  allowPositionals: true,
  async run(v, args) {
    if (args.length === 0) throw new UsageError('give at least one public entry FILE.pub.json[:analyst|auditor[:BUDGET_RHO]] (from blindsum analyst keygen)');
    const operator = loadIdentityFile(str(v['operator-key'], 'operator-key', true));
    const out = str(v['out'], 'out', true);
    const version = int(v['version'], 'version', existingVersion(out) + 1, 1, Number.MAX_SAFE_INTEGER);
    const analysts = args.map((arg) => {
      const { file, role, budgetRho } = parseEntry(arg);
      let e: { id?: unknown; publicKey?: unknown };
      try {
        e = JSON.parse(readFileSync(file, 'utf8')) as typeof e;
      } catch (err) {
        throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`);
      }
      return { id: validatePartyId(e.id, `${file}: id`), publicKey: String(e.publicKey ?? ''), role, budgetRho };
    });
    const signed = signAnalystRoster(operator.identity.secretKey, { federation: str(v['federation'], 'federation', true), version, analysts });
    const rosterPath = str(v['roster'], 'roster');
    writeAnalystRosterFile(out, signed);
    if (rosterPath !== undefined) loadAnalystRoster(out, loadRoster(rosterPath));
    process.stdout.write(`wrote ${out}: version ${version}, ${analysts.map((a) => `${a.id} (${a.role}${a.role === 'analyst' ? `, rho ${a.budgetRho}` : ''})`).join(', ')}; signed by ${operator.id} (key ${keyFingerprint(operator.identity.publicKey)}…)\n`);
    return 0;
  },
};

export const analystCkksKeygen: Command = { ...ckksKeygen, name: 'analyst ckks-keygen', usage: ckksKeygen.usage.replace('analyst-keygen', 'analyst ckks-keygen') };
