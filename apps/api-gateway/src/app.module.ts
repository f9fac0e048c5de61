import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import type { DataSource } from 'typeorm';
import type { Env } from '@medfusion/config';
import type { Logger } from '@medfusion/runtime';
import { ApiKeyGuard } from './auth/api-key.guard.js';
import { ApiKeyService } from './auth/api-key.service.js';
import { ApiKeysController } from './auth/api-keys.controller.js';
import { FileReferences } from './common/file-references.js';
import { DatasetsController } from './datasets/datasets.controller.js';
import { DatasetsService } from './datasets/datasets.service.js';
import { HealthController } from './health/health.controller.js';
import { ShutdownState } from './health/shutdown-state.js';
import { IdempotencyInterceptor } from './idempotency/idempotency.interceptor.js';
import { IdempotencyService } from './idempotency/idempotency.service.js';
import { InfrastructureModule } from './infrastructure/infrastructure.module.js';
import { ModelsController } from './models/models.controller.js';
import { ModelsService } from './models/models.service.js';
import { LiveConnections } from './progress/live-connections.js';
import { LiveProgressGateway } from './progress/live-progress.gateway.js';
import { SweepsController } from './sweeps/sweeps.controller.js';
import { SweepsService } from './sweeps/sweeps.service.js';
import { TrainingJobsController } from './training-jobs/training-jobs.controller.js';
import { TrainingJobsService } from './training-jobs/training-jobs.service.js';
import { WorkflowsController } from './workflows/workflows.controller.js';
import { WorkflowsService } from './workflows/workflows.service.js';

@Module({})
export class AppModule {
  static forRoot(env: Env, ds: DataSource, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [InfrastructureModule.forRoot(env, ds, logger)],
      controllers: [HealthController, ApiKeysController, WorkflowsController, TrainingJobsController, ModelsController, DatasetsController, SweepsController],
      providers: [
        ApiKeyService,
        IdempotencyService,
        ShutdownState,
        FileReferences,
        WorkflowsService,
        TrainingJobsService,
        ModelsService,
        DatasetsService,
        SweepsService,
        LiveConnections,
        LiveProgressGateway,
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor },
      ],
    };
  }
}
