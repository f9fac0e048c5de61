import { Controller, Delete, Get, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  paginationQuerySchema,
  registerDatasetSchema,
  storedDatasetUploadSchema,
  uploadDatasetFieldsSchema,
  type PaginationQuery,
  type RegisterDataset,
  type StoredDatasetUpload,
} from '@medfusion/contracts';
import type { Principal } from '@medfusion/domain';
import { CurrentPrincipal, Writers } from '../auth/auth.decorators.js';
import { ApiZodBody, ApiZodQuery, openApiSchema } from '../common/openapi.js';
import { IdParam, ValidBody, ValidQuery } from '../common/validated.decorators.js';
import { IDEMPOTENCY_HEADER_DOC } from '../idempotency/idempotency.docs.js';
import { ARCHIVE_FIELD, ArchiveUploadGuard, type UploadRequest } from './archive-upload.guard.js';
import { DatasetsService } from './datasets.service.js';

const uploadFields = openApiSchema(uploadDatasetFieldsSchema) as { properties: Record<string, unknown>; required?: string[] };

@ApiTags('datasets')
@ApiBearerAuth()
@Controller('datasets')
export class DatasetsController {
  constructor(private readonly datasets: DatasetsService) {}

  @Post()
  @Writers()
  @ApiOperation({ summary: 'Register a dataset folder (path + metadata). The path must lie under a data root (DATA_ROOTS or the uploads folder), symbolic links resolved (422 otherwise); the stored dataPath is its real path. Counts must be consistent.' })
  @ApiHeader(IDEMPOTENCY_HEADER_DOC)
  @ApiZodBody(registerDatasetSchema)
  register(@ValidBody(registerDatasetSchema) body: RegisterDataset, @CurrentPrincipal() p: Principal) {
    return this.datasets.register(body, p);
  }

  @Post('upload')
  @Writers()
  @UseGuards(ArchiveUploadGuard)
  @ApiOperation({
    summary: 'Upload a dataset archive (.zip, .tar.gz/.tgz or .tar): unpacked, validated by loading it, and registered with its statistics.',
    description:
      'The archive holds the CSV (clinical.csv, or its only .csv) and the PNG, JPEG or DICOM images it names, at the top level or inside one top folder. ' +
      'Zip entries may be stored or deflated. Larger than DATASET_UPLOAD_LIMIT_BYTES, or unpacking to more than DATASET_EXTRACTED_LIMIT_BYTES, ' +
      'DATASET_MAX_ENTRIES or DATASET_MAX_COMPRESSION_RATIO times its size (compression bombs, refused from declared sizes before writing): 413. ' +
      'Unsafe entries (.., absolute paths, links, devices): 400 naming the entry. Unpacking past DATASET_UNPACK_TIMEOUT_MS: 422. ' +
      'A data set that does not load (including labels of a single class): 422 naming the file, line and column. ' +
      'With Idempotency-Key, a retry with the same archive (by SHA-256) and fields returns the first response; another archive under the same key is a 422.',
  })
  @ApiHeader(IDEMPOTENCY_HEADER_DOC)
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    schema: {
      type: 'object',
      required: [ARCHIVE_FIELD, ...(uploadFields.required ?? [])],
      properties: { [ARCHIVE_FIELD]: { type: 'string', format: 'binary', description: 'the archive' }, ...uploadFields.properties },
    } as never,
  })
  upload(@Req() req: UploadRequest, @ValidBody(storedDatasetUploadSchema) fields: StoredDatasetUpload, @CurrentPrincipal() p: Principal) {
    return this.datasets.upload({ path: req.file.path, size: req.file.size }, fields, p);
  }

  @Get()
  @ApiOperation({ summary: 'List datasets, newest first (shared catalogue).' })
  @ApiZodQuery(paginationQuerySchema)
  list(@ValidQuery(paginationQuerySchema) q: PaginationQuery, @CurrentPrincipal() p: Principal) {
    return this.datasets.list(q, p);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a dataset; its dataPath only for its owner and admins.' })
  get(@IdParam() id: string, @CurrentPrincipal() p: Principal) {
    return this.datasets.get(id, p);
  }

  @Delete(':id')
  @HttpCode(204)
  @Writers()
  @ApiOperation({ summary: 'Delete a dataset record (and, for an uploaded one, its unpacked files); 409 while training jobs use it.' })
  async remove(@IdParam() id: string, @CurrentPrincipal() p: Principal): Promise<void> {
    await this.datasets.remove(id, p);
  }
}
