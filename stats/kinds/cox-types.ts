/** The result of one round (and of a whole job) of the cox kind (stats/kinds/cox.ts). */

/** A χ² test as summary(coxph) prints it. */
export interface CoxTest {
  statistic: number;
  df: number;
  p: number;
}

export interface CoxResult {
  kind: 'cox';
  /** Rows used: complete cases (time, event and every predictor present) passing the filter. */
  n: number;
  notes: string[];
  time: string;
  event: string;
  /** The event levels (the others are censoring). */
  positive: string[];
  /** Edges of the public time grid (a time in bin j is taken to be edges[j + 1]). */
  edges: number[];
  /** Coefficient names, as R names them (`sexm` for level m of sex). */
  terms: string[];
  /** Events among the rows used. */
  events: number;
  /** The state (standardized coefficients β̃) this round was evaluated at. */
  state: number[];
  /** β̃ + I⁻¹U, the Newton step; null when the information matrix is singular. */
  nextState: number[] | null;
  /** −2 log partial likelihood at the state; null when not finite. */
  objective: number | null;
  /** Rounds run and convergence (set on a job's answer by runJob). */
  iterations?: number;
  converged?: boolean;
  /** Coefficients on the original scale at the state, and exp of them. */
  coefficients: number[];
  hazardRatios: number[];
  /** From the inverse information at the state; null when it is singular. */
  standardErrors: (number | null)[];
  z: (number | null)[];
  p: (number | null)[];
  /** 95% confidence interval of the hazard ratio: exp(β ± 1.96 SE). */
  lower95: (number | null)[];
  upper95: (number | null)[];
  /** Log partial likelihood (Breslow) at the state and at β = 0, over the same rows. */
  loglik: number | null;
  loglikNull: number | null;
  /**
   * 2(l(β) − l(0)); β̃ᵀ I β̃; and the score (log-rank) test U(0)ᵀ I(0)⁻¹ U(0), which only a round
   * at β = 0 gives (a job's answer takes it from its first round when the rows are the same).
   */
  likelihoodRatio: CoxTest | null;
  wald: CoxTest | null;
  score: CoxTest | null;
}
