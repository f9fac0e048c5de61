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
