import { HttpStatus } from '@nestjs/common';
import { mayChange, mayRead, type Principal, type Visibility } from '@medfusion/domain';
import { ApiError } from '../common/api-error.js';

export function assertMayRead(p: Principal, visibility: Visibility, kind: string, id: string, owner: string | null): void {
  if (!mayRead(p, visibility, owner)) throw forbidden(p, `read ${kind} ${id}`);
}

export function assertMayChange(p: Principal, kind: string, id: string, owner: string | null): void {
  if (!mayChange(p, owner)) throw forbidden(p, `change ${kind} ${id} (owned by ${owner ?? 'nobody'})`);
}

function forbidden(p: Principal, what: string): ApiError {
  return new ApiError(HttpStatus.FORBIDDEN, `${p.role} key of ${p.owner} may not ${what}`, [{ field: 'Authorization', message: 'not allowed' }]);
}

export function notFound(kind: string, id: string): ApiError {
  return new ApiError(HttpStatus.NOT_FOUND, `${kind} ${id} not found`, [{ field: 'id', message: `no ${kind} with this id` }]);
}
