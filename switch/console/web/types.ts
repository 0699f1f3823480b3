/**
 * The admin API's answers as the console reads them: the shapes of
 * switch/observe/overview.ts, switch/reports (report-types.ts, evidence.ts) and the
 * review items of switch/store/types.ts, restated here because the browser build takes
 * nothing from the server's (Node-typed) sources; test/console-api-types.test.ts makes
 * the compiler hold each to its server type. Card data comes masked from the API;
 * the console shows nothing else.
 */

export interface Overview {
  at: number;
  sales: number;
  approvals: number | null;
  answers: number;
  timeouts: number;
  reversals: number;
  refunds: number;
  saf: { pending: number; sent: number; oldestAgeSeconds: number };
  manualQueue: number;
  reviewOpen: number;
  reviewOldestAgeSeconds: number;
  inFlight: number;
  upstreams: { name: string; up: boolean }[];
  /** Buckets [upper bound in s (null: +Inf), cumulative count]. */
  addedLatency: { count: number; p50: number | null; p99: number | null; buckets: [number | null, number][] };
}

export interface Amount {
  currency: string;
  count: number;
  minor: string;
}

export type Row = Record<string, unknown>;

export interface Report {
  since: string;
  until: string;
  generatedAt: string;
  totals: {
    transactions: number;
    approved: number;
    declined: number;
    exceptions: number;
    inFlight: number;
    terminalReversals: number;
    amounts: Amount[];
    exceptionAmounts: Amount[];
  };
  byClass: Row[];
  reversalsByState: Row[];
  refundsByState: Row[];
  pending: { reversals: Row[]; transactions: Row[] };
  manual: Row[];
  reviews: Row[];
  openReviews: Row[];
  topTerminals: Row[];
  topMerchants: Row[];
  refunds: Row[];
  velocityAlerts: Row[];
  limit: number;
  truncated: boolean;
  totalRows: Record<string, number>;
}

export interface EvidenceTxn {
  id: string;
  terminal: string | null;
  merchant: string | null;
  mti: string;
  stan: string;
  rrn: string | null;
  amount: string | null;
  currency: string | null;
  panMasked: string | null;
  businessDate: string | null;
  upstream: string | null;
  state: string;
  responseCode: string | null;
  approvalCode: string | null;
  failureClass: string | null;
  decision: string | null;
  reversalId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface EvidenceReversal {
  id: string;
  kind: string;
  amount: string | null;
  upstream: string;
  state: string;
  attempts: number;
  reason: string;
  explanation: string;
  enqueuedAt: string;
  lastError: string | null;
  note: string | null;
}

export interface EvidenceEntry {
  at: string;
  seq: number;
  kind: string;
  ref: string;
  role: string;
  state: string;
  detail: Record<string, unknown> | string | null;
}

export interface Evidence {
  txn: EvidenceTxn;
  reversal: EvidenceReversal | null;
  terminalReversals: EvidenceTxn[];
  history: EvidenceEntry[];
}

export interface TxnSearch {
  count: number;
  transactions: EvidenceTxn[];
  evidence?: Evidence;
}

export interface ManualLine {
  id: string;
  kind: string;
  txnId: string | null;
  upstream: string;
  attempts: number;
  reason: string;
  enqueuedAt: string;
  ageMs: number;
  lastError: string | null;
  terminal: string | null;
  rrn: string | null;
  amount: string | null;
  currency: string | null;
}

export interface ReviewItem {
  id: string;
  txnId: string;
  upstream: string | null;
  proposed: string;
  amount: string | null;
  reason: string | null;
  why: string;
  state: string;
  createdAt: number;
  decidedAt: number | null;
  decidedBy: string | null;
  note: string | null;
  action: string | null;
  undoId: string | null;
}
