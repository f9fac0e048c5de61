import { HttpStatus, Injectable, SetMetadata, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants.js';
import type { Request, Response } from 'express';
import { createHash } from 'node:crypto';
import { catchError, from, mergeMap, of, type Observable } from 'rxjs';
import { ApiError } from '../common/api-error.js';
import type { AuthenticatedRequest } from '../auth/auth.decorators.js';
import { IdempotencyService, runWithClaim } from './idempotency.service.js';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
const NO_IDEMPOTENCY = 'medfusion:no-idempotency';

/** For POST routes whose response must not be stored (it carries a secret). */
export const NoIdempotency = () => SetMetadata(NO_IDEMPOTENCY, true);

/** JSON with object keys sorted, so the same body with reordered keys is the same request. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/**
 * `Idempotency-Key` on any POST: the first request's response is stored and every retry with the
 * same key (and the same body) gets it back instead of creating a second resource.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(private readonly store: IdempotencyService) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = ctx.switchToHttp().getRequest<Request & AuthenticatedRequest>();
    const key = req.headers[IDEMPOTENCY_HEADER];
    if (req.method !== 'POST' || key === undefined || !req.principal) return next.handle();
    if (typeof key !== 'string' || key.length < 1 || key.length > 255 || !/^[\x21-\x7e]+$/.test(key)) {
      throw new ApiError(HttpStatus.BAD_REQUEST, 'Idempotency-Key: must be 1 to 255 visible ASCII characters', [
        { field: 'Idempotency-Key', message: 'must be 1 to 255 visible ASCII characters' },
      ]);
    }
    if (Reflect.getMetadata(NO_IDEMPOTENCY, ctx.getHandler())) {
      throw new ApiError(HttpStatus.BAD_REQUEST, 'Idempotency-Key: not supported on this route (its response holds a secret that is never stored)', [
        { field: 'Idempotency-Key', message: 'not supported on this route' },
      ]);
    }
    const owner = req.principal.owner;
    const path = req.originalUrl.split('?')[0]!;
    const requestHash = createHash('sha256').update(canonicalJson(req.body ?? null)).digest('hex');
    const res = ctx.switchToHttp().getResponse<Response>();
    // Nest sets the status after interceptors run, from the route's @HttpCode or the method default.
    const status: number = Reflect.getMetadata(HTTP_CODE_METADATA, ctx.getHandler()) ?? HttpStatus.CREATED;

    return from(this.store.claim(owner, key, req.method, path, requestHash, status)).pipe(
      mergeMap((claim) => {
        switch (claim.kind) {
          case 'replay':
            // Same route, so Nest sends the same status code as the first time.
            res.setHeader('Idempotent-Replayed', 'true');
            return of(claim.body);
          case 'in-progress':
            throw new ApiError(HttpStatus.CONFLICT, 'Idempotency-Key: a request with this key is still being processed; retry later', [
              { field: 'Idempotency-Key', message: 'in progress' },
            ]);
          case 'mismatch':
            throw new ApiError(
              HttpStatus.UNPROCESSABLE_ENTITY,
              `Idempotency-Key: already used for a different request (${claim.method} ${claim.path} with another body)`,
              [{ field: 'Idempotency-Key', message: 'reused for a different request' }],
            );
          case 'claimed': {
            const { claim: held } = claim;
            // Nest binds the handler to the async context in which handle() is called, so the
            // service's commitWithIdempotencyKey finds this claim and stores the response with its writes.
            return runWithClaim(held, () => next.handle()).pipe(
              mergeMap(async (body: unknown) => {
                if (!held.stored) await this.store.complete(held, body);
                else if (held.stored.body !== body) await this.store.replaceResponse(held, body);
                return body;
              }),
              catchError(async (err: unknown) => {
                // Only a claim still in progress goes: a response stored with the writes stays, so a retry replays it.
                await this.store.release(held);
                throw err;
              }),
            );
          }
        }
      }),
    );
  }
}
