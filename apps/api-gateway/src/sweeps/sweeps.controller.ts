import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  createSweepSchema,
  enqueueTrialSchema,
  listSweepsQuerySchema,
  listTrialsQuerySchema,
  type CreateSweep,
  type EnqueueTrial,
  type ListSweepsQuery,
  type ListTrialsQuery,
} from '@medfusion/contracts';
import type { Principal } from '@medfusion/domain';
import { CurrentPrincipal, Writers } from '../auth/auth.decorators.js';
import { ApiZodBody, ApiZodQuery } from '../common/openapi.js';
import { IdParam, ValidBody, ValidQuery } from '../common/validated.decorators.js';
import { IDEMPOTENCY_HEADER_DOC } from '../idempotency/idempotency.docs.js';
import { SweepsService } from './sweeps.service.js';

@ApiTags('sweeps')
@ApiBearerAuth()
@Controller('sweeps')
export class SweepsController {
  constructor(private readonly sweeps: SweepsService) {}

  @Post()
  @Writers()
  @ApiOperation({
    summary:
      'Start a hyper-parameter sweep: search space (parameter names are training-job field paths such as trainingConfig.learningRate), objectives, sampler, pruner, budget, parallelism and the base training job. The scheduler runs its trials as training jobs.',
  })
  @ApiHeader(IDEMPOTENCY_HEADER_DOC)
  @ApiZodBody(createSweepSchema)
  create(@ValidBody(createSweepSchema) body: CreateSweep, @CurrentPrincipal() p: Principal) {
    return this.sweeps.create(body, p);
  }

  @Get()
  @ApiOperation({ summary: 'List sweeps, newest first; members see their own.' })
  @ApiZodQuery(listSweepsQuerySchema)
  list(@ValidQuery(listSweepsQuerySchema) q: ListSweepsQuery, @CurrentPrincipal() p: Principal) {
    return this.sweeps.list(q, p);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a sweep with its trial counts, best trial (and its model) and, for several objectives, the Pareto front.' })
  get(@IdParam() id: string, @CurrentPrincipal() p: Principal) {
    return this.sweeps.get(id, p);
  }

  @Get(':id/trials')
  @ApiOperation({ summary: 'List the trials of a sweep by number: parameters, state, value per epoch, final values, pruner decisions, training job.' })
  @ApiZodQuery(listTrialsQuerySchema)
  trials(@IdParam() id: string, @ValidQuery(listTrialsQuerySchema) q: ListTrialsQuery, @CurrentPrincipal() p: Principal) {
    return this.sweeps.trials(id, q, p);
  }

  @Post(':id/trials')
  @Writers()
  @ApiOperation({ summary: 'Enqueue a trial with chosen parameters (Optuna enqueue_trial): it runs before sampled trials; parameters left out are drawn at random.' })
  @ApiHeader(IDEMPOTENCY_HEADER_DOC)
  @ApiZodBody(enqueueTrialSchema)
  enqueue(@IdParam() id: string, @ValidBody(enqueueTrialSchema) body: EnqueueTrial, @CurrentPrincipal() p: Principal) {
    return this.sweeps.enqueue(id, body, p);
  }

  @Post(':id/stop')
  @HttpCode(200)
  @Writers()
  @ApiOperation({ summary: 'Stop a sweep: no new trials; running trials are stopped through training control; it ends as stopped.' })
  stop(@IdParam() id: string, @CurrentPrincipal() p: Principal) {
    return this.sweeps.stop(id, p);
  }
}
