import { measureTrainingDemand, type ServiceConnections, type TrainingQueue } from '@medfusion/queue';
import type { HealthRoute } from '@medfusion/runtime';

/** Where KEDA's `metrics-api` trigger reads the training queue's demand (on the scheduler's health port). */
export const QUEUE_METRICS_PATH = '/metrics/queue';

/**
 * JSON for KEDA's `metrics-api` scaler: `{ training: { workersNeeded, ... } }`, read with
 * `valueLocation: training.workersNeeded`. One figure, because KEDA combines several triggers by
 * their maximum, not their sum: waiting list and prioritized set as separate triggers would
 * under-count the work, and neither would know how many workers each gang needs.
 */
export function queueMetricsRoute(queue: TrainingQueue, conn: Pick<ServiceConnections, 'redis' | 'ds'>): HealthRoute {
  return async () => ({
    status: 200,
    body: { training: await measureTrainingDemand(queue, conn.redis, conn.ds), measuredAt: new Date().toISOString() },
  });
}
