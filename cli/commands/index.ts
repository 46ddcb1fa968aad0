/** Every command of the CLI, in the order `blindsum --help` lists them (also read by test/deploy-files.test.ts). */
import type { Command } from '../args.ts';
import { audit } from './audit.ts';
import { certs } from './certs.ts';
import { analystKeygen, collectiveKey } from './ckks.ts';
import { analystCkksKeygen, analystIdentityKeygen, analystRoster } from './analyst.ts';
import { demo } from './demo.ts';
import { health } from './health.ts';
import { keygen, roster } from './keys.ts';
import { budget, parties, query, result } from './query.ts';
import { aggregator, party } from './services.ts';
import { schema } from './schema.ts';
import { synth } from './synth.ts';
import { train } from './train.ts';

export const COMMANDS: Command[] = [
  demo, aggregator, party, query, result, budget, parties, keygen, roster, analystIdentityKeygen, analystRoster, analystCkksKeygen, audit, synth, train, analystKeygen, collectiveKey,
  certs, health, schema,
];
