import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { IsNull, type Repository, DataSource } from 'typeorm';
import type { CreateApiKey } from '@medfusion/contracts';
import type { Principal } from '@medfusion/domain';
import { ApiKeyEntity } from '@medfusion/persistence';
import type { Logger } from '@medfusion/runtime';
import { ApiError } from '../common/api-error.js';
import { LOGGER } from '../infrastructure/infrastructure.module.js';

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

function view(k: ApiKeyEntity): ApiKeyView {
  const { keyHash: _hash, ...rest } = k;
  return rest;
}

@Injectable()
export class ApiKeyService {
  private readonly repo: Repository<ApiKeyEntity>;

  constructor(
    ds: DataSource,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.repo = ds.getRepository(ApiKeyEntity);
  }

  /** Resolves a presented key to its principal; null for unknown or revoked keys. */
  async authenticate(rawKey: string): Promise<Principal | null> {
    const key = await this.repo.findOneBy({ keyHash: hashApiKey(rawKey), revokedAt: IsNull() });
    return key ? { keyId: key.id, owner: key.owner, role: key.role } : null;
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
    return view(key);
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
