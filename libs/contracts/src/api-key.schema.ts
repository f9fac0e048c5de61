import { z } from 'zod';

/** admin: everything; member: creates and controls only its own resources; viewer: read only. */
export const API_KEY_ROLES = ['admin', 'member', 'viewer'] as const;
export const apiKeyRoleSchema = z.enum(API_KEY_ROLES);
export type ApiKeyRole = z.infer<typeof apiKeyRoleSchema>;

export const createApiKeySchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  role: apiKeyRoleSchema,
  /** Who the key acts for; resources it creates are owned by this name. */
  owner: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9_.@-]+$/, 'may contain only letters, digits and "_", ".", "@", "-"'),
});
export type CreateApiKey = z.infer<typeof createApiKeySchema>;

/**
 * Redis pub/sub channel on which a gateway announces that a key was revoked or changed, so that every
 * gateway replica ends or downgrades the key's live Socket.IO connections at once. Gateways also
 * re-check their connected keys periodically, so a lost message only delays the cut-off.
 */
export function apiKeyChangedChannel(redisPrefix: string): string {
  return `${redisPrefix}:api-key-changed`;
}

export const apiKeyChangedMessageSchema = z.strictObject({
  keyId: z.uuid(),
  /** `revoked`: the key no longer authenticates; `updated`: its role or owner may differ. */
  change: z.enum(['revoked', 'updated']),
});
export type ApiKeyChangedMessage = z.infer<typeof apiKeyChangedMessageSchema>;
