import { ApiKeyEntity } from './api-key.entity.js';
import { DatasetEntity } from './dataset.entity.js';
import { IdempotencyRecordEntity } from './idempotency-record.entity.js';
import { ModelEntity } from './model.entity.js';
import { SweepEntity } from './sweep.entity.js';
import { TrainingCheckpointEntity } from './training-checkpoint.entity.js';
import { TrainingJobEntity } from './training-job.entity.js';
import { TrainingJobRankEntity } from './training-job-rank.entity.js';
import { TrialEntity } from './trial.entity.js';
import { WorkflowExecutionEntity } from './workflow-execution.entity.js';
import { WorkflowEntity } from './workflow.entity.js';

export * from './api-key.entity.js';
export * from './dataset.entity.js';
export * from './idempotency-record.entity.js';
export * from './model.entity.js';
export * from './training-checkpoint.entity.js';
export * from './training-job.entity.js';
export * from './training-job-rank.entity.js';
export * from './sweep.entity.js';
export * from './trial.entity.js';
export * from './workflow-execution.entity.js';
export * from './workflow.entity.js';

/** Every entity TypeORM maps. */
export const ENTITIES = [
  ApiKeyEntity,
  DatasetEntity,
  IdempotencyRecordEntity,
  ModelEntity,
  TrainingCheckpointEntity,
  TrainingJobEntity,
  TrainingJobRankEntity,
  SweepEntity,
  TrialEntity,
  WorkflowEntity,
  WorkflowExecutionEntity,
];
