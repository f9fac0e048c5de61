import { Metadata, status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { CollectiveError, type CollectiveErrorCode, type CollectiveErrorContext } from './collective-error.js';

/** Trailing metadata key that carries a CollectiveErrorCode between ranks, so a relayed failure keeps its code. */
export const ERROR_CODE_METADATA_KEY = 'collective-error-code';

const CODES = new Set<string>([
  'INVALID_ARGUMENT',
  'PEER_UNREACHABLE',
  'DEADLINE_EXCEEDED',
  'UNAUTHENTICATED',
  'CONFIG_MISMATCH',
  'SIZE_MISMATCH',
  'CALL_MISMATCH',
  'PEER_LEFT',
  'PROTOCOL_VIOLATION',
  'GROUP_BROKEN',
  'CLOSED',
]);

const GRPC_STATUS_FOR: Record<CollectiveErrorCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  PEER_UNREACHABLE: status.UNAVAILABLE,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  CONFIG_MISMATCH: status.FAILED_PRECONDITION,
  SIZE_MISMATCH: status.FAILED_PRECONDITION,
  CALL_MISMATCH: status.FAILED_PRECONDITION,
  PEER_LEFT: status.ABORTED,
  PROTOCOL_VIOLATION: status.INTERNAL,
  GROUP_BROKEN: status.ABORTED,
  CLOSED: status.ABORTED,
};

/** A gRPC status that tells the calling rank what failed here, with the collective code attached. */
export function statusFor(code: CollectiveErrorCode, details: string): Partial<StatusObject> & { code: status; details: string; metadata: Metadata } {
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_METADATA_KEY, code);
  return { code: GRPC_STATUS_FOR[code], details, metadata };
}

export function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof (error as Partial<ServiceError>).code === 'number';
}

/**
 * Maps a failed gRPC call to a CollectiveError. A status from another rank that names its
 * collective code keeps it (a SIZE_MISMATCH found two ranks away is still a SIZE_MISMATCH); a
 * dropped connection means the peer left; the rest keep gRPC's own meaning.
 */
export function collectiveErrorFromGrpc(error: unknown, context: CollectiveErrorContext, during: string): CollectiveError {
  if (!isServiceError(error)) {
    return new CollectiveError('PROTOCOL_VIOLATION', `${during}: ${error instanceof Error ? error.message : String(error)}`, { ...context, cause: error });
  }
  const relayed = error.metadata?.get(ERROR_CODE_METADATA_KEY)[0];
  const details = error.details || status[error.code];
  if (typeof relayed === 'string' && CODES.has(relayed)) {
    return new CollectiveError(relayed as CollectiveErrorCode, `${during}: the peer reported: ${details}`, { ...context, cause: error });
  }
  const code: CollectiveErrorCode =
    error.code === status.DEADLINE_EXCEEDED
      ? 'DEADLINE_EXCEEDED'
      : error.code === status.UNAUTHENTICATED
        ? 'UNAUTHENTICATED'
        : error.code === status.INTERNAL || error.code === status.UNIMPLEMENTED || error.code === status.RESOURCE_EXHAUSTED
          ? 'PROTOCOL_VIOLATION'
          : 'PEER_LEFT';
  return new CollectiveError(code, `${during}: gRPC ${status[error.code]}: ${details}`, { ...context, cause: error });
}
