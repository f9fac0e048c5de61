import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { In, IsNull, type Repository, DataSource } from 'typeorm';
import type { CreateApiKey } from '@medfusion/contracts';
import type { Principal } from '@medfusion/domain';
import { ApiKeyEntity } from '@medfusion/persistence';
import { publishApiKeyChanged } from '@medfusion/queue';
import type { Logger } from '@medfusion/runtime';
import { ApiError } from '../common/api-error.js';
import { GatewayConfig } from '../infrastructure/gateway-config.js';
import { LOGGER, REDIS } from '../infrastructure/infrastructure.module.js';

export const BOOTSTRAP_OWNER = 'bootstrap-admin';

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The key as shown to the user; the secret is never returned after creation. */
export interface ApiKeyView {
  id: string;
  name: string;
  keyPrefix: string;
  role: ApiKeyEntity['role'];
  owner: string;
  createdBy: string;
  createdAt: Date;
  revokedAt: Date | null;
}

function principalOf(k: ApiKeyEntity): Principal {
  return { keyId: k.id, owner: k.owner, role: k.role };
}

function view(k: ApiKeyEntity): ApiKeyView {
  const { keyHash: _hash, ...rest } = k;
  return rest;
}

@Injectable()
export class ApiKeyService {
  private readonly repo: Repository<ApiKeyEntity>;

  constructor(
    ds: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly config: GatewayConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.repo = ds.getRepository(ApiKeyEntity);
  }

  /** Resolves a presented key to its principal; null for unknown or revoked keys. */
  async authenticate(rawKey: string): Promise<Principal | null> {
    const key = await this.repo.findOneBy({ keyHash: hashApiKey(rawKey), revokedAt: IsNull() });
    return key ? principalOf(key) : null;
  }

  /** The current principals of these keys, by key id; revoked and unknown keys are absent. */
  async principalsByIds(keyIds: readonly string[]): Promise<Map<string, Principal>> {
    const found = new Map<string, Principal>();
    if (!keyIds.length) return found;
    for (const key of await this.repo.findBy({ id: In([...keyIds]), revokedAt: IsNull() })) found.set(key.id, principalOf(key));
    return found;
  }

  async create(input: CreateApiKey, createdBy: string): Promise<ApiKeyView & { key: string }> {
    const key = `mf_${randomBytes(32).toString('base64url')}`;
    const saved = await this.repo.save(
      this.repo.create({ name: input.name, role: input.role, owner: input.owner, createdBy, keyHash: hashApiKey(key), keyPrefix: key.slice(0, 10) }),
    );
    return { ...view(saved), key };
  }

  async list(): Promise<ApiKeyView[]> {
    return (await this.repo.find({ order: { createdAt: 'ASC' } })).map(view);
  }

  async revoke(id: string): Promise<ApiKeyView> {
    const key = await this.repo.findOneBy({ id });
    if (!key) throw new ApiError(HttpStatus.NOT_FOUND, `api key ${id} not found`, [{ field: 'id', message: 'not found' }]);
    if (!key.revokedAt) {
      key.revokedAt = new Date();
      await this.repo.save(key);
    }
    // Signalled on every call, not only the first: repeating a revoke re-sends a signal that was lost.
    await this.signalChange(key.id, 'revoked');
    return view(key);
  }

  /**
   * Tells every gateway replica to end (or downgrade) the key's live Socket.IO connections. The
   * change is already committed, so a failed publish does not fail the request: it is logged, and
   * the replicas' periodic re-check (SOCKET_AUTH_RECHECK_MS) cuts the connections off instead.
   */
  private async signalChange(keyId: string, change: 'revoked' | 'updated'): Promise<void> {
    try {
      await publishApiKeyChanged(this.redis, this.config.env.REDIS_PREFIX, { keyId, change });
    } catch (err) {
      this.logger.error(
        { err, keyId, change, recheckMs: this.config.env.SOCKET_AUTH_RECHECK_MS },
        'could not signal an API key change over Redis; live connections are cut off at the next periodic re-check',
      );
    }
  }

  /**
   * Makes BOOTSTRAP_ADMIN_KEY usable. A bootstrap key that an admin revoked stays revoked: a
   * restart must not silently bring it back.
   */
  async ensureBootstrapKey(rawKey: string): Promise<void> {
    const keyHash = hashApiKey(rawKey);
    const existing = await this.repo.findOneBy({ keyHash });
    if (existing?.revokedAt) {
      this.logger.warn({ keyId: existing.id }, 'BOOTSTRAP_ADMIN_KEY was revoked; it stays revoked');
      return;
    }
    if (existing) return;
    await this.repo
      .createQueryBuilder()
      .insert()
      .values({ name: 'bootstrap admin', role: 'admin', owner: BOOTSTRAP_OWNER, createdBy: BOOTSTRAP_OWNER, keyHash, keyPrefix: rawKey.slice(0, 10) })
      .orIgnore() // two gateways starting together
      .execute();
    this.logger.info('bootstrap admin key registered');
  }
}
