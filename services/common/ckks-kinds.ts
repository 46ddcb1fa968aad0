/** Transcript entry kinds of CKKS messages (no dependency: imported wherever envelopes are made or read). */
export const CkksEntryKind = {
  StartCeremony: 'ckks/start-ceremony',
  CRSCommit: 'ckks/crs-commit',
  CRSCommitments: 'ckks/crs-commitments',
  CRSReveal: 'ckks/crs-reveal',
  CRSNonces: 'ckks/crs-nonces',
  CKGCommit: 'ckks/ckg-commit',
  CKGCommitments: 'ckks/ckg-commitments',
  CKGShare: 'ckks/ckg-share',
  CollectivePublicKey: 'ckks/collective-public-key',
  CKGConfirm: 'ckks/ckg-confirm',
  StartSession: 'ckks/start-session',
  InputCommit: 'ckks/input-commit',
  InputCommitments: 'ckks/input-commitments',
  EncryptedInput: 'ckks/encrypted-input',
  PCKSRequest: 'ckks/pcks-request',
  PCKSShare: 'ckks/pcks-share',
} as const;

/** The kinds parties sign (the others are the aggregator's). */
export const CKKS_PARTY_KINDS: ReadonlySet<string> = new Set([
  CkksEntryKind.CRSCommit, CkksEntryKind.CRSReveal, CkksEntryKind.CKGCommit, CkksEntryKind.CKGShare, CkksEntryKind.CKGConfirm, CkksEntryKind.InputCommit, CkksEntryKind.EncryptedInput, CkksEntryKind.PCKSShare,
]);
