import type { DataConfig, ModelConfig, TrainingConfig } from '@medfusion/contracts';
import type { CheckpointMeta, ClassificationMetrics, ComputeBackendName, EpochInfo, StepInfo } from '@medfusion/training';

/** Values of the shared control cell the main thread writes and the training thread reads. */
export const CONTROL = { none: 0, pause: 1, stop: 2, handback: 3 } as const;
export type ControlCode = (typeof CONTROL)[keyof typeof CONTROL];

/** What the main thread gives the training thread. */
export interface TrainingThreadInput {
  jobId: string;
  modelConfig: ModelConfig;
  trainingConfig: TrainingConfig;
  dataConfig: DataConfig;
  dataPath: string;
  /**
   * Folders the data set's files and a `modelConfig.weightsPath` must lie under (DATA_ROOTS and the
   * uploads folder), checked again in the thread where they are opened: the gateway checked them
   * when they were submitted, but a link can change since.
   */
  dataRoots: string[];
  /** Stored weights named by `modelConfig.initialWeights`, found by the main thread: a location inside artifactsDir. */
  storedWeights: { location: string; label: string } | null;
  artifactsDir: string;
  /** Key of the checkpoint to resume from, in the artifact store. */
  resumeFrom: string | null;
  backend: ComputeBackendName | 'auto';
  /** CPU threads the job's kernels may use (the fast CPU path); one job per worker slot. */
  computeThreads: number;
  /** Int32Array(1) over this buffer holds a CONTROL value; read between steps. */
  control: SharedArrayBuffer;
  /** Set for one rank of a multi-worker job: the thread joins the gang's collective group. */
  collective?: CollectiveThreadSettings;
}

/** What a rank's thread needs to listen and join; the peers' addresses follow as a `peers` message. */
export interface CollectiveThreadSettings {
  rank: number;
  worldSize: number;
  /** The gang's attempt number: the group's id is job id + attempt, so an old gang's rank is refused. */
  attempt: number;
  token: string;
  bindHost: string;
  /** gRPC (control) and socket data plane ports; 0 picks a free one. */
  port: number;
  dataPort: number;
  deadlineMs: number;
  joinTimeoutMs: number;
  bucketBytes: number;
}

/** What the main thread sends the training thread after it started. */
export type MainToThreadMessage = { type: 'peers'; peers: Array<{ host: string; port: number }> };

/** What the training thread tells the main thread, in order. */
export type TrainingThreadMessage =
  | { type: 'backend'; name: ComputeBackendName; label: string; threads?: number; nhwcAddon?: string; gemm?: string; skipped: Array<{ name: string; reason: string }> }
  | { type: 'data'; train: number; val: number; test: number; clinicalColumns: string[] }
  | ({ type: 'step' } & StepInfo)
  | ({ type: 'epoch' } & EpochInfo)
  | { type: 'checkpoint'; key: string; location: string; size: number; meta: CheckpointMeta; metrics: Record<string, number>; reason: string }
  | { type: 'completed'; location: string; size: number; epochs: number; earlyStopped: boolean; val: ClassificationMetrics; test: ClassificationMetrics; numClinical: number }
  | { type: 'halted'; kind: 'pause' | 'stop' | 'handback'; epoch: number; step: number }
  /** A rank's collective server listens on `port`: the main thread publishes it and answers with `peers`. */
  | { type: 'collective-listening'; port: number }
  /** Every rank of the gang answered: training starts. */
  | { type: 'collective-joined' }
  /** A rank other than 0 ended its part (rank 0 reports the outcome for the job). */
  | { type: 'rank-finished'; kind: 'completed' | 'pause' | 'stop' | 'handback' }
  /** `code` is set for coded errors (a CollectiveError's, WEIGHT_DIVERGENCE, ...). */
  | { type: 'failed'; message: string; code?: string };
