import { Controller, Delete, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { createTrainingJobSchema, listTrainingJobsQuerySchema, type CreateTrainingJob, type ListTrainingJobsQuery } from '@medfusion/contracts';
import type { Principal } from '@medfusion/domain';
import { CurrentPrincipal, Writers } from '../auth/auth.decorators.js';
import { ApiZodBody, ApiZodQuery } from '../common/openapi.js';
import { IdParam, ValidBody, ValidQuery } from '../common/validated.decorators.js';
import { IDEMPOTENCY_HEADER_DOC } from '../idempotency/idempotency.docs.js';
import { TrainingJobsService } from './training-jobs.service.js';

@ApiTags('training-jobs')
@ApiBearerAuth()
@Controller('training-jobs')
export class TrainingJobsController {
  constructor(private readonly jobs: TrainingJobsService) {}

  @Post()
  @Writers()
  @ApiOperation({
    summary:
      'Submit a training job: stored as queued and added to the training queue under the same id. A multi-worker job waits in the ' +
      'database until the scheduler can start all its workers at once (gang scheduling). Starting weights: modelConfig.weightsPath must lie under ' +
      'DATA_ROOTS (links resolved), modelConfig.initialWeights names a stored model or checkpoint of yours by id; 422 naming the field otherwise.',
  })
  @ApiHeader(IDEMPOTENCY_HEADER_DOC)
  @ApiZodBody(createTrainingJobSchema)
  create(@ValidBody(createTrainingJobSchema) body: CreateTrainingJob, @CurrentPrincipal() p: Principal) {
    return this.jobs.create(body, p);
  }

  @Get()
  @ApiOperation({ summary: 'List training jobs, newest first; members see their own.' })
  @ApiZodQuery(listTrainingJobsQuerySchema)
  list(@ValidQuery(listTrainingJobsQuerySchema) q: ListTrainingJobsQuery, @CurrentPrincipal() p: Principal) {
    return this.jobs.list(q, p);
  }

  @Get(':id')
  @ApiOperation({
    summary:
      'Get a training job with its progress, metrics and history. A multi-worker job (trainingConfig.resources.workers > 1) also has ' +
      '`ranks` (its gang: rank, workerId, slot, host, port, status, samplesPerSecond, error), `restarts` and, while it waits, `schedulingNote`.',
  })
  get(@IdParam() id: string, @CurrentPrincipal() p: Principal) {
    return this.jobs.get(id, p);
  }

  @Post(':id/pause')
  @HttpCode(200)
  @Writers()
  @ApiOperation({
    summary: 'Pause: a queued job pauses at once; a running job gets desiredState "pause" and its worker checkpoints and frees the GPU.',
  })
  pause(@IdParam() id: string, @CurrentPrincipal() p: Principal) {
    return this.jobs.pause(id, p);
  }

  @Post(':id/resume')
  @HttpCode(200)
  @Writers()
  @ApiOperation({ summary: 'Resume a paused job: it is queued again and continues from its last checkpoint.' })
  resume(@IdParam() id: string, @CurrentPrincipal() p: Principal) {
    return this.jobs.resume(id, p);
  }

  @Post(':id/stop')
  @HttpCode(200)
  @Writers()
  @ApiOperation({ summary: 'Stop: a queued or paused job stops at once; a running job checkpoints and ends as stopped.' })
  stop(@IdParam() id: string, @CurrentPrincipal() p: Principal) {
    return this.jobs.stop(id, p);
  }

  @Delete(':id')
  @HttpCode(204)
  @Writers()
  @ApiOperation({ summary: 'Delete a job that is not running (409 while running), with its checkpoints rows.' })
  async remove(@IdParam() id: string, @CurrentPrincipal() p: Principal): Promise<void> {
    await this.jobs.remove(id, p);
  }
}
