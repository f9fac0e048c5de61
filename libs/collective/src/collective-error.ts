/** What went wrong in a collective; stable, so callers (the training loop, recovery) can branch on it. */
export type CollectiveErrorCode =
  | 'INVALID_ARGUMENT'
  | 'PEER_UNREACHABLE'
  | 'DEADLINE_EXCEEDED'
  | 'UNAUTHENTICATED'
  | 'CONFIG_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'CALL_MISMATCH'
  | 'PEER_LEFT'
  | 'PROTOCOL_VIOLATION'
  | 'GROUP_BROKEN'
  | 'CLOSED';

export type CollectiveOperation = 'join' | 'allReduce' | 'barrier' | 'broadcast' | 'register';

export interface CollectivePeerRef {
  rank: number;
  address: string;
}

export interface CollectiveErrorContext {
  /** The rank that raised the error. */
  rank: number;
  operation: CollectiveOperation;
  /** The peer the rank was talking to or waiting for, when one is to blame. */
  peer?: CollectivePeerRef;
  /** Collective call number (1, 2, ...) and ring step, for errors during an all-reduce. */
  seq?: number;
  step?: number;
  /** Whatever lower-level error led here (a gRPC status, another rank's failure). */
  cause?: unknown;
}

/** What the user can do about each code; appended to every message. */
const REMEDIES: Record<CollectiveErrorCode, string> = {
  INVALID_ARGUMENT: 'fix the argument named above',
  PEER_UNREACHABLE:
    'check that every rank was started and that `peers` lists the host:port each rank listens on, reachable from this rank',
  DEADLINE_EXCEEDED:
    'a peer is dead, stalled or much slower than the others; if the step is legitimately this slow, raise deadlineMs',
  UNAUTHENTICATED: 'give every rank of the job the same token',
  CONFIG_MISMATCH: 'start every rank with the same job id, world size and bucket size, each with its own rank',
  SIZE_MISMATCH: 'every rank must all-reduce buffers of the same length in the same order (same model, same variables)',
  CALL_MISMATCH: 'every rank must make the same collective calls in the same order (all-reduce, broadcast with the same root, barrier)',
  PEER_LEFT: 'a rank crashed or left; this group cannot continue: start a new group with every rank (resume from the last checkpoint)',
  PROTOCOL_VIOLATION: 'a peer runs another version of the collective library, or a bug: run the same build on every rank',
  GROUP_BROKEN: 'an earlier collective failed (see its cause); this group cannot continue: join a new group',
  CLOSED: 'the group was closed; join a new group',
};

/**
 * A collective that failed, with who failed (rank), doing what (operation, call number, ring step),
 * because of whom (peer), and what the user can do about it. The message reads:
 * `rank 2 allReduce #5 step 3, peer rank 1 (10.0.0.7:7001): PEER_LEFT: ... (what to do)`.
 */
export class CollectiveError extends Error {
  override readonly name = 'CollectiveError';
  readonly rank: number;
  readonly operation: CollectiveOperation;
  readonly peer?: CollectivePeerRef;
  readonly seq?: number;
  readonly step?: number;
  readonly detail: string;

  constructor(
    readonly code: CollectiveErrorCode,
    detail: string,
    context: CollectiveErrorContext,
  ) {
    super(`${describeContext(context)}: ${code}: ${detail} (${REMEDIES[code]})`, context.cause === undefined ? undefined : { cause: context.cause });
    this.detail = detail;
    this.rank = context.rank;
    this.operation = context.operation;
    this.peer = context.peer;
    this.seq = context.seq;
    this.step = context.step;
  }
}

function describeContext({ rank, operation, peer, seq, step }: CollectiveErrorContext): string {
  const call = seq === undefined ? operation : `${operation} #${seq}`;
  const where = [`rank ${rank} ${call}`, step === undefined ? undefined : `step ${step}`].filter(Boolean).join(' ');
  return peer ? `${where}, peer rank ${peer.rank} (${peer.address})` : where;
}

/**
 * Codes that mean a rank was lost or never came (crashed, killed, hung, unreachable), not that the
 * ranks disagree: a job whose gang failed with one of them can start again with a new gang from
 * its last checkpoint. The others point at a bug or a misconfiguration a restart would repeat.
 */
export const RANK_LOSS_CODES: ReadonlySet<string> = new Set<CollectiveErrorCode>(['PEER_UNREACHABLE', 'DEADLINE_EXCEEDED', 'PEER_LEFT', 'GROUP_BROKEN', 'CLOSED']);
