/**
 * Bodies of the aggregator-originated transcript entries that have no wire message of their
 * own (JSON, signed as exact bytes), and the mapping from party round messages to entry kinds.
 */
import { EntryKind } from '../../crypto/transcript.ts';
import type { PartyMessage } from '../../gen/blindsum/v1/blindsum.ts';
import { CkksEntryKind } from './ckks-kinds.ts';

/** query/submitted: the query as accepted from the analyst and its fixed-point plan. */
export interface QuerySubmittedRecord {
  queryId: string;
  analyst: string;
  backend: string;
  /** The stats Query (parseQueryJson form). */
  query: unknown;
  schemaDigest: string;
  planDigest: string;
  /** Number of roster parties the plan was sized for (overflow check). */
  plannedParties: number;
  ringBits: 32 | 64;
  vectorLength: number;
  submittedAtMs: number;
  /** zCDP ρ of the query (0 = exact, no DP noise). */
  rho: number;
  /** The DP fixed-point grid the plan was made with (absent for exact queries). */
  dpGridBits?: number;
  /** The aggregator's policy when the query was accepted (budgetRho: the analyst's, from the analyst roster). */
  /** The aggregator's policy when the query was accepted; minCohort: DP results with a smaller noisy n carry a note (flagSmallCohort). */
  policy: { allowExact: boolean; budgetRho: number; minCohort?: number };
  /** The analyst's signed QueryRequest (exact bytes, base64) and Ed25519 signature (base64), domain "analyst/query-request". */
  signedRequest?: string;
  signature?: string;
  /** Version of the operator-signed analyst roster the request was checked against. */
  analystRosterVersion?: number;
}

/** budget/charge: the analyst's budget charged for a query, before any party is contacted. */
export interface BudgetChargeRecord {
  queryId: string;
  analyst: string;
  rho: number;
  /** ρ already spent by the analyst (charges − refunds) before this charge. */
  spentBefore: number;
  limitRho: number;
}

/** budget/refund: a charge returned because the query failed before Unmasking began. */
export interface BudgetRefundRecord {
  queryId: string;
  analyst: string;
  rho: number;
  reason: string;
}

/** query/released: what the analyst gets, logged before it is released. */
export interface ReleasedRecord {
  queryId: string;
  contributors: string[];
  /** Exact integer sums on the fixed-point grid, decimal. */
  exactSums: string[];
  scaleBits: number[];
  entryNames: string[];
  resultJson: string;
}

export interface FailedRecord {
  queryId: string;
  error: string;
}

type PartyCase = NonNullable<PartyMessage['body']>['$case'];

const KIND_OF: Partial<Record<PartyCase, string>> = {
  refusal: EntryKind.Refusal,
  advertiseKeys: EntryKind.AdvertiseKeys,
  shareKeys: EntryKind.ShareKeys,
  maskedInput: EntryKind.MaskedInput,
  consistencyCheck: EntryKind.ConsistencyCheck,
  unmasking: EntryKind.Unmasking,
  crsCommit: CkksEntryKind.CRSCommit,
  crsReveal: CkksEntryKind.CRSReveal,
  ckgCommit: CkksEntryKind.CKGCommit,
  ckgShare: CkksEntryKind.CKGShare,
  ckgConfirm: CkksEntryKind.CKGConfirm,
  inputCommit: CkksEntryKind.InputCommit,
  encryptedInput: CkksEntryKind.EncryptedInput,
  pcksShare: CkksEntryKind.PCKSShare,
};

/** The entry kind of a party round message, or undefined for messages that are not logged. */
export function kindOfPartyMessage(c: PartyCase): string | undefined {
  return KIND_OF[c];
}

export function jsonBody(record: object): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(record));
}

/** What the verifier reports for one query or key ceremony. */
export interface SessionSummary {
  queryId: string;
  kind: string;
  status: 'released' | 'failed' | 'incomplete' | 'partial';
  /** zCDP ρ charged (0 = exact query). */
  rho: number;
  refunded: boolean;
  contributors: string[];
  unmaskers: number;
  refusals: string[];
  resultChecked: boolean;
  /** How the entry was checked, when the generic wording does not fit (CKKS sessions and key ceremonies). */
  note?: string;
  /** Checks of this session that could not run because blobs were absent. */
  unchecked?: string[];
}
