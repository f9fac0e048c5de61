import { Controller, Delete, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { paginationQuerySchema, registerDatasetSchema, type PaginationQuery, type RegisterDataset } from '@medfusion/contracts';
import type { Principal } from '@medfusion/domain';
import { CurrentPrincipal, Writers } from '../auth/auth.decorators.js';
import { ApiZodBody, ApiZodQuery } from '../common/openapi.js';
import { IdParam, ValidBody, ValidQuery } from '../common/validated.decorators.js';
import { IDEMPOTENCY_HEADER_DOC } from '../idempotency/idempotency.docs.js';
import { DatasetsService } from './datasets.service.js';

@ApiTags('datasets')
@ApiBearerAuth()
@Controller('datasets')
export class DatasetsController {
  constructor(private readonly datasets: DatasetsService) {}

  @Post()
  @Writers()
  @ApiOperation({ summary: 'Register a dataset folder (path + metadata). Counts must be consistent.' })
  @ApiHeader(IDEMPOTENCY_HEADER_DOC)
  @ApiZodBody(registerDatasetSchema)
  register(@ValidBody(registerDatasetSchema) body: RegisterDataset, @CurrentPrincipal() p: Principal) {
    return this.datasets.register(body, p);
  }

  @Get()
  @ApiOperation({ summary: 'List datasets, newest first (shared catalogue).' })
  @ApiZodQuery(paginationQuerySchema)
  list(@ValidQuery(paginationQuerySchema) q: PaginationQuery) {
    return this.datasets.list(q);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a dataset.' })
  get(@IdParam() id: string) {
    return this.datasets.get(id);
  }

  @Delete(':id')
  @HttpCode(204)
  @Writers()
  @ApiOperation({ summary: 'Delete a dataset record (not its files); 409 while training jobs use it.' })
  async remove(@IdParam() id: string, @CurrentPrincipal() p: Principal): Promise<void> {
    await this.datasets.remove(id, p);
  }
}
