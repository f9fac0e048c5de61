import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import type { ApiKeyRole } from '@medfusion/contracts';
import type { Principal } from '@medfusion/domain';

export const PUBLIC_ROUTE = 'medfusion:public';
export const ALLOWED_ROLES = 'medfusion:roles';

/** No API key needed (health, docs). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/** Only keys with one of these roles may call the route (ownership is checked by the service). */
export const Roles = (...roles: ApiKeyRole[]) => SetMetadata(ALLOWED_ROLES, roles);

/** Roles that may create and change resources. */
export const Writers = () => Roles('admin', 'member');

export interface AuthenticatedRequest {
  principal?: Principal;
}

export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (!principal) throw new Error('CurrentPrincipal used on a public route');
  return principal;
});
