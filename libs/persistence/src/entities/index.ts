import { ApiKeyEntity } from './api-key.entity.js';
import { DatasetEntity } from './dataset.entity.js';
import { IdempotencyRecordEntity } from './idempotency-record.entity.js';
import { ModelEntity } from './model.entity.js';
import { TrainingCheckpointEntity } from './training-checkpoint.entity.js';
import { TrainingJobEntity } from './training-job.entity.js';
import { WorkflowExecutionEntity } from './workflow-execution.entity.js';
import { WorkflowEntity } from './workflow.entity.js';

export {
  ApiKeyEntity,
  DatasetEntity,
  IdempotencyRecordEntity,
  ModelEntity,
  TrainingCheckpointEntity,
  TrainingJobEntity,
  WorkflowEntity,
  WorkflowExecutionEntity,
};
export type { EpochRecord } from './training-job.entity.js';

export const ENTITIES = [
  ApiKeyEntity,
  DatasetEntity,
  IdempotencyRecordEntity,
  ModelEntity,
  TrainingCheckpointEntity,
  TrainingJobEntity,
  WorkflowEntity,
  WorkflowExecutionEntity,
];
