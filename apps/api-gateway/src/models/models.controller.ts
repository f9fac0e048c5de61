import { Controller, Delete, Get, HttpCode } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { paginationQuerySchema, type PaginationQuery } from '@medfusion/contracts';
import type { Principal } from '@medfusion/domain';
import { CurrentPrincipal, Writers } from '../auth/auth.decorators.js';
import { ApiZodQuery } from '../common/openapi.js';
import { IdParam, ValidQuery } from '../common/validated.decorators.js';
import { ModelsService } from './models.service.js';

@ApiTags('models')
@ApiBearerAuth()
@Controller('models')
export class ModelsController {
  constructor(private readonly models: ModelsService) {}

  @Get()
  @ApiOperation({ summary: 'List trained models, newest first (shared catalogue).' })
  @ApiZodQuery(paginationQuerySchema)
  list(@ValidQuery(paginationQuerySchema) q: PaginationQuery, @CurrentPrincipal() p: Principal) {
    return this.models.list(q, p);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a model with its metrics and input shape; its artifact path (modelPath) only for its owner and admins.' })
  get(@IdParam() id: string, @CurrentPrincipal() p: Principal) {
    return this.models.get(id, p);
  }

  @Delete(':id')
  @HttpCode(204)
  @Writers()
  @ApiOperation({ summary: 'Delete a model record (owner or admin). Its artifact files are kept.' })
  async remove(@IdParam() id: string, @CurrentPrincipal() p: Principal): Promise<void> {
    await this.models.remove(id, p);
  }
}
