/**
 * A DP training job's mechanism, chosen by the analyst's client before round 1
 * (stats/kinds/train-dp.ts chooseTrainDp): from the federation's roster figures and schema
 * (ListParties), the target (ε, δ) and the number of rounds. The aggregator's figures are not
 * trusted for privacy: every party recomputes the job's ε from its own roster and refuses a round
 * whose ρ does not cover its share.
 */
import { chooseTrainDp, parseSchema, schemaDigest, trainDpPlan, type PrivacySpec, type Query, type Schema } from '../stats/index.ts';
import { AnalystError, type AnalystClient } from './analyst.ts';

export interface TrainingPrivacy {
  /** The query with train.dp set (the same for every round). */
  query: Query;
  /** ρ each round is charged (1/rounds of the job's). */
  roundRho: number;
  jobRho: number;
  /** The job's (ε, δ) for the roster the aggregator reported. */
  epsilon: number;
  delta: number;
  bitsPerCoordinate: number;
}

/** The federation's roster figures and schema, as the aggregator reports them (checked against its digest). */
export async function federationFacts(client: AnalystClient): Promise<{ roster: { parties: number; threshold: number; collusion: number }; schema: Schema }> {
  const info = await client.listParties();
  let schema: Schema;
  try {
    schema = parseSchema(JSON.parse(info.schemaJson) as unknown);
  } catch (e) {
    throw new AnalystError(9, `the aggregator's schema is unreadable (${(e as Error).message.slice(0, 120)}); is it an older version?`);
  }
  if (schemaDigest(schema) !== info.schemaDigest) throw new AnalystError(9, 'the aggregator\'s schema does not match its schema digest');
  return { roster: { parties: info.parties.length, threshold: info.threshold, collusion: info.collusion }, schema };
}

/**
 * The mechanism of a DP training job of `rounds` rounds meeting (ε, δ) — or, when resuming, the
 * one its first round used (`logged`), so every round of a job has the same.
 */
export async function planTrainingPrivacy(client: AnalystClient, q: Query, privacy: PrivacySpec, rounds: number, logged?: Query): Promise<TrainingPrivacy> {
  if (!q.train) throw new AnalystError(3, 'train_round needs its training plan (train)');
  if (privacy.epsilon === undefined || privacy.delta === undefined || privacy.rho !== undefined) {
    throw new AnalystError(3, 'a DP training job takes its guarantee as --epsilon and --delta (the job\'s (ε, δ) over all its rounds), not --rho');
  }
  const { roster, schema } = await federationFacts(client);
  let dp = logged?.train?.dp;
  if (!dp) {
    try {
      dp = chooseTrainDp(q, schema, roster, { epsilon: privacy.epsilon, delta: privacy.delta, rounds });
    } catch (e) {
      throw new AnalystError(3, `cannot plan the DP training job: ${(e as Error).message}`);
    }
  }
  const query: Query = { ...q, train: { ...q.train, dp } };
  const p = trainDpPlan(query, schema, roster);
  if (p.epsilon > privacy.epsilon * (1 + 1e-9)) throw new AnalystError(3, `the job's mechanism gives epsilon = ${p.epsilon.toPrecision(4)}, above the ${privacy.epsilon} asked for`);
  return { query, roundRho: p.jobRho / dp.rounds, jobRho: p.jobRho, epsilon: p.epsilon, delta: dp.delta, bitsPerCoordinate: p.plan.bits };
}
