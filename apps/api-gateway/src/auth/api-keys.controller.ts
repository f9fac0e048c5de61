import { Controller, Delete, Get, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { createApiKeySchema, type CreateApiKey } from '@medfusion/contracts';
import type { Principal } from '@medfusion/domain';
import { ApiZodBody } from '../common/openapi.js';
import { NoIdempotency } from '../idempotency/idempotency.interceptor.js';
import { IdParam, ValidBody } from '../common/validated.decorators.js';
import { CurrentPrincipal, Roles } from './auth.decorators.js';
import { ApiKeyService } from './api-key.service.js';

@ApiTags('api-keys')
@ApiBearerAuth()
@Roles('admin')
@Controller('api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeyService) {}

  @Post()
  @NoIdempotency()
  @ApiOperation({ summary: 'Create an API key (admin). The key is returned once, in `key`; Idempotency-Key is refused here.' })
  @ApiZodBody(createApiKeySchema)
  create(@ValidBody(createApiKeySchema) body: CreateApiKey, @CurrentPrincipal() p: Principal) {
    return this.keys.create(body, p.owner);
  }

  @Get()
  @ApiOperation({ summary: 'List API keys (admin); secrets are never shown.' })
  list() {
    return this.keys.list();
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Revoke an API key (admin).' })
  revoke(@IdParam() id: string) {
    return this.keys.revoke(id);
  }
}
