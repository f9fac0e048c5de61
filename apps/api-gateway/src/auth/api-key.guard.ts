import { HttpStatus, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { ApiKeyRole } from '@medfusion/contracts';
import { ApiError } from '../common/api-error.js';
import { ALLOWED_ROLES, PUBLIC_ROUTE, type AuthenticatedRequest } from './auth.decorators.js';
import { ApiKeyService } from './api-key.service.js';

/** Every route needs `Authorization: Bearer <api key>` unless marked @Public(). */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeyService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const req = ctx.switchToHttp().getRequest<AuthenticatedRequest & { headers: Record<string, string | undefined> }>();
    const header = req.headers['authorization'];
    const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (!match) {
      throw new ApiError(HttpStatus.UNAUTHORIZED, 'Authorization: missing or not of the form "Bearer <api key>"', [
        { field: 'Authorization', message: 'missing or malformed' },
      ]);
    }
    const principal = await this.keys.authenticate(match[1]!);
    if (!principal) {
      throw new ApiError(HttpStatus.UNAUTHORIZED, 'Authorization: unknown or revoked API key', [{ field: 'Authorization', message: 'unknown or revoked API key' }]);
    }
    req.principal = principal;
    const roles = this.reflector.getAllAndOverride<ApiKeyRole[] | undefined>(ALLOWED_ROLES, targets);
    if (roles && !roles.includes(principal.role)) {
      throw new ApiError(HttpStatus.FORBIDDEN, `role ${principal.role} may not do this (needs ${roles.join(' or ')})`, [
        { field: 'Authorization', message: `role ${principal.role} not allowed` },
      ]);
    }
    return true;
  }
}
