import { HttpStatus } from '@nestjs/common';
import { mayChange, mayRead, type Principal, type Visibility } from '@medfusion/domain';
import { ApiError } from '../common/api-error.js';

/**
 * A caller that may not read a resource gets the same 404 as for an id that does not exist, so a
 * member cannot tell that another owner's job, workflow or sweep is there.
 */
export function assertMayRead(p: Principal, visibility: Visibility, kind: string, id: string, owner: string | null): void {
  if (!mayRead(p, visibility, owner)) throw notFound(kind, id);
}

/**
 * 404 for a caller that may not even read the resource (as assertMayRead); 403 only for one that may
 * read it but not change it (a viewer, or a member on a catalogue item it does not own).
 */
export function assertMayChange(p: Principal, visibility: Visibility, kind: string, id: string, owner: string | null): void {
  assertMayRead(p, visibility, kind, id, owner);
  if (!mayChange(p, owner)) throw forbidden(p, `change ${kind} ${id} (owned by ${owner ?? 'nobody'})`);
}

function forbidden(p: Principal, what: string): ApiError {
  return new ApiError(HttpStatus.FORBIDDEN, `${p.role} key of ${p.owner} may not ${what}`, [{ field: 'Authorization', message: 'not allowed' }]);
}

export function notFound(kind: string, id: string): ApiError {
  return new ApiError(HttpStatus.NOT_FOUND, `${kind} ${id} not found`, [{ field: 'id', message: `no ${kind} with this id` }]);
}
