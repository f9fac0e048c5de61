import type { ApiKeyRole } from '@medfusion/contracts';

/** The caller as resolved from its API key. */
export interface Principal {
  keyId: string;
  owner: string;
  role: ApiKeyRole;
}

/**
 * `owned` resources (training jobs, workflows) belong to whoever created them; `catalogue` resources
 * (datasets, models) are a shared catalogue that every key may read, but only the owner changes.
 */
export type Visibility = 'owned' | 'catalogue';

/**
 * Role rules in one place:
 * - admin: everything;
 * - member: reads the catalogue and its own owned resources; creates; changes only what it owns;
 * - viewer: reads everything, changes nothing.
 */
export function mayRead(principal: Principal, visibility: Visibility, resourceOwner: string | null): boolean {
  if (principal.role !== 'member' || visibility === 'catalogue') return true;
  return resourceOwner === principal.owner;
}

export function mayCreate(principal: Principal): boolean {
  return principal.role !== 'viewer';
}

export function mayChange(principal: Principal, resourceOwner: string | null): boolean {
  if (principal.role === 'admin') return true;
  return principal.role === 'member' && resourceOwner === principal.owner;
}

/**
 * The files behind a resource: its server paths (`dataPath`, `modelPath`, `checkpointPath`) and the
 * stored weights a training job may start from (`modelConfig.initialWeights`). Only admins and the
 * resource's owner: the catalogue shares what a dataset or model is, not where it lies on the
 * workers or the weights themselves.
 */
export function mayUseFiles(principal: Principal, resourceOwner: string | null): boolean {
  return principal.role === 'admin' || (resourceOwner !== null && principal.owner === resourceOwner);
}

/** Owner filter for list queries: undefined means "no filter". */
export function listOwnerFilter(principal: Principal, visibility: Visibility): string | undefined {
  return principal.role === 'member' && visibility === 'owned' ? principal.owner : undefined;
}

export function isAdmin(principal: Principal): boolean {
  return principal.role === 'admin';
}
