/** Registry: the one KindDef per query kind. */
import type { QueryKind } from '../query-types.ts';
import { contingency, frequency } from './categorical.ts';
import { logisticRegression, poissonRegression } from './glm.ts';
import { histogram } from './histogram.ts';
import { kaplanMeier } from './kaplan-meier.ts';
import { cox } from './cox.ts';
import { marginal } from './marginal.ts';
import { trainRound } from './train-round.ts';
import { trainRoundDp } from './train-dp.ts';
import { trainEvaluate } from './train-evaluate.ts';
import { correlation, covariance } from './moments.ts';
import { population } from './population.ts';
import { linearRegression } from './regression.ts';
import type { KindDef } from './types.ts';
import { count, mean, sum, variance } from './univariate.ts';

export const KINDS: Readonly<Record<QueryKind, KindDef>> = {
  count, sum, mean, variance, histogram, frequency, contingency, covariance, correlation,
  linear_regression: linearRegression, marginal,
  logistic_regression: logisticRegression, poisson_regression: poissonRegression,
  kaplan_meier: kaplanMeier, cox, train_round: { ...trainRound, dp: trainRoundDp }, train_evaluate: trainEvaluate, population,
};

export type * from './types.ts';
