import { z } from 'zod';
import { choiceValueSchema, DIRECTIONS, isInDomain, searchSpaceSchema, type ChoiceValue, type ParamSpec, type SearchSpace } from '@medfusion/tuning';
import { FieldPathError, setAtPath } from './field-paths.js';
import { createTrainingJobSchema, dataConfigSchema, modelConfigSchema, TRAINING_JOB_FILE_FIELDS, trainingConfigSchema, type CreateTrainingJob } from './training-job.schema.js';

/**
 * Hyper-parameter sweeps (issue #7). Statuses and trial states are persisted, so the strings are
 * data: never rename one without a migration.
 */
export const SWEEP_STATUSES = ['running', 'stopping', 'completed', 'stopped', 'failed'] as const;
export const sweepStatusSchema = z.enum(SWEEP_STATUSES);
export type SweepStatus = z.infer<typeof sweepStatusSchema>;

/**
 * `waiting`: enqueued by a user, not started yet; `stopped`: ended because the sweep was stopped.
 * The other states are the tuning library's (`running`, `complete`, `pruned`, `failed`).
 */
export const SWEEP_TRIAL_STATES = ['waiting', 'running', 'complete', 'pruned', 'failed', 'stopped'] as const;
export const sweepTrialStateSchema = z.enum(SWEEP_TRIAL_STATES);
export type SweepTrialState = z.infer<typeof sweepTrialStateSchema>;

/** The validation metrics a training job reports per epoch and at its end. */
export const SWEEP_OBJECTIVE_METRICS = ['val_loss', 'val_accuracy', 'val_balanced_accuracy', 'val_auc', 'val_auc_pr', 'val_f1', 'val_sensitivity', 'val_specificity', 'val_ece'] as const;

export const sweepObjectiveSchema = z.strictObject({
  metric: z.enum(SWEEP_OBJECTIVE_METRICS),
  direction: z.enum(DIRECTIONS),
});
export type SweepObjective = z.infer<typeof sweepObjectiveSchema>;

const positiveInt = z.int().min(1);
const probability = z.number().min(0).max(1);

/** Options per sampler, as in docs/tuning.md; unknown options are refused, not ignored. */
export const sweepSamplerSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('random'), options: z.strictObject({}).default({}) }),
  z.strictObject({
    type: z.literal('grid'),
    options: z
      .strictObject({ values: z.record(z.string(), z.array(choiceValueSchema).min(1).max(10_000)).optional(), maxPoints: positiveInt.max(1_000_000).optional() })
      .default({}),
  }),
  z.strictObject({
    type: z.literal('tpe'),
    options: z
      .strictObject({
        nStartupTrials: z.int().min(0).max(10_000).optional(),
        nEiCandidates: positiveInt.max(10_000).optional(),
        priorWeight: z.number().positive().max(1e6).optional(),
        considerMagicClip: z.boolean().optional(),
        considerEndpoints: z.boolean().optional(),
        multivariate: z.boolean().optional(),
        constantLiar: z.boolean().optional(),
      })
      .default({}),
  }),
  z.strictObject({
    type: z.literal('cmaes'),
    options: z.strictObject({ populationSize: z.int().min(2).max(10_000).optional(), sigma0: z.number().positive().max(1).optional() }).default({}),
  }),
  z.strictObject({
    type: z.literal('nsga2'),
    options: z
      .strictObject({
        populationSize: z.int().min(2).max(10_000).optional(),
        crossoverProb: probability.optional(),
        sbxProb: probability.optional(),
        sbxEta: z.number().positive().max(1e4).optional(),
        swappingProb: probability.optional(),
        mutationProb: probability.optional(),
        mutationEta: z.number().positive().max(1e4).optional(),
      })
      .default({}),
  }),
]);
export type SweepSamplerConfig = z.infer<typeof sweepSamplerSchema>;

const percentileOptions = {
  nStartupTrials: z.int().min(0).max(10_000).optional(),
  nWarmupSteps: z.int().min(0).max(10_000).optional(),
  intervalSteps: positiveInt.max(10_000).optional(),
  nMinTrials: positiveInt.max(10_000).optional(),
};

/** Pruners decide from the first objective's value at each epoch (the step is the epoch number). */
export const sweepPrunerSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({ type: z.literal('median'), options: z.strictObject(percentileOptions).default({}) }),
  z.strictObject({ type: z.literal('percentile'), options: z.strictObject({ percentile: z.number().min(0).max(100), ...percentileOptions }) }),
  z.strictObject({
    type: z.literal('successive_halving'),
    options: z.strictObject({
      minResource: positiveInt.max(10_000),
      reductionFactor: z.int().min(2).max(100).optional(),
      minEarlyStoppingRate: z.int().min(0).max(100).optional(),
      bootstrapCount: z.int().min(0).max(10_000).optional(),
    }),
  }),
  z.strictObject({
    type: z.literal('hyperband'),
    options: z.strictObject({
      minResource: positiveInt.max(10_000).optional(),
      maxResource: positiveInt.max(10_000),
      reductionFactor: z.int().min(2).max(100).optional(),
      bootstrapCount: z.int().min(0).max(10_000).optional(),
    }),
  }),
]);
export type SweepPrunerConfig = z.infer<typeof sweepPrunerSchema>;

/** The training job every trial starts from; the search space's parameters overwrite its fields. */
export const sweepBaseTrainingJobSchema = z.strictObject({
  description: z.string().max(5000).default(''),
  modelConfig: modelConfigSchema.default(modelConfigSchema.parse({})),
  dataConfig: dataConfigSchema,
  trainingConfig: trainingConfigSchema,
});
export type SweepBaseTrainingJob = z.infer<typeof sweepBaseTrainingJobSchema>;

/** The sections of a training job a parameter may address, e.g. `trainingConfig.learningRate`. */
const PARAM_ROOTS = ['modelConfig', 'dataConfig', 'trainingConfig'] as const;

export type TrialParams = Record<string, ChoiceValue>;

export class TrialParamsError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'TrialParamsError';
  }
}

/**
 * The training job of one trial: the base job with each parameter written at its dotted path
 * (missing objects on the way are created). Throws TrialParamsError naming the parameter when the
 * path does not lead into a training job, and a ZodError when the result is not a valid job.
 */
export function trialTrainingJob(base: SweepBaseTrainingJob, params: TrialParams, name: string): CreateTrainingJob {
  const job: Record<string, unknown> = structuredClone({ ...base, name });
  for (const [path, value] of Object.entries(params)) setParam(job, path, value);
  return createTrainingJobSchema.parse(job);
}

function setParam(target: Record<string, unknown>, path: string, value: ChoiceValue): void {
  const keys = path.split('.');
  if (!(PARAM_ROOTS as readonly string[]).includes(keys[0]!) || keys.length < 2) {
    throw new TrialParamsError(path, `a parameter name is the dotted path of a training job field under ${PARAM_ROOTS.join(', ')} (e.g. trainingConfig.learningRate)`);
  }
  try {
    setAtPath(target, path, value);
  } catch (err) {
    if (err instanceof FieldPathError) throw new TrialParamsError(path, err.reason);
    throw err;
  }
}

/** Values that stand for the whole domain of a parameter when checking it against the job schema. */
function probeValues(spec: ParamSpec): ChoiceValue[] {
  if (spec.type === 'categorical') return spec.choices;
  const values: number[] = [spec.low, spec.high];
  // An interior value catches a float range written onto an integer field; the irrational fraction
  // keeps it off the integers for any integer bounds.
  if (spec.type === 'float' && spec.step === undefined && spec.low < spec.high) {
    values.push(spec.log ? spec.low * (spec.high / spec.low) ** Math.SQRT1_2 : spec.low + (spec.high - spec.low) * Math.SQRT1_2);
  }
  return values;
}

/**
 * Checks that every parameter names a training job field and that its extreme values (each choice,
 * low and high) give a valid job when written into the base. Returns issues with paths relative to
 * the create-sweep body.
 */
export function searchSpaceIssuesAgainstJob(space: SearchSpace, base: SweepBaseTrainingJob): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  for (const [name, spec] of Object.entries(space)) {
    const file = TRAINING_JOB_FILE_FIELDS.find((f) => name === f || name.startsWith(`${f}.`));
    if (file) {
      // Each such value would need the checks of a submitted job (roots, ownership); set it in baseTrainingJob.
      issues.push({ path: ['searchSpace', name], message: `${file} names files on the workers and cannot be a search parameter; set it in baseTrainingJob.modelConfig` });
      continue;
    }
    for (const value of probeValues(spec)) {
      try {
        trialTrainingJob(base, { [name]: value }, 'probe');
      } catch (err) {
        const reason =
          err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : err instanceof TrialParamsError ? err.message : String(err);
        issues.push({ path: ['searchSpace', name], message: `value ${JSON.stringify(value)} does not give a valid training job (${reason})` });
        break;
      }
    }
  }
  return issues;
}

const SINGLE_OBJECTIVE_SAMPLERS = new Set(['tpe', 'cmaes']);

export const createSweepSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    description: z.string().max(5000).default(''),
    searchSpace: searchSpaceSchema,
    objectives: z.array(sweepObjectiveSchema).min(1).max(4),
    sampler: sweepSamplerSchema.default({ type: 'tpe', options: {} }),
    pruner: sweepPrunerSchema.default({ type: 'none' }),
    budget: z.strictObject({
      maxTrials: z.int().min(1).max(10_000),
      /** No new trial starts after this long; running ones finish (as Optuna's timeout). */
      maxDurationSeconds: z.int().min(1).max(30 * 24 * 3600).optional(),
    }),
    parallelism: z.int().min(1).max(256).default(1),
    seed: z.int().min(0).max(2 ** 31 - 1).default(0),
    baseTrainingJob: sweepBaseTrainingJobSchema,
    /** Trials to run first with these parameters (Optuna's enqueue_trial), in order. */
    enqueueTrials: z.array(z.record(z.string(), choiceValueSchema)).max(1000).default([]),
  })
  .superRefine((s, ctx) => {
    const metrics = s.objectives.map((o) => o.metric);
    metrics.forEach((m, i) => {
      if (metrics.indexOf(m) !== i) ctx.addIssue({ code: 'custom', path: ['objectives', i, 'metric'], message: `"${m}" is already an objective` });
    });
    if (s.objectives.length > 1 && SINGLE_OBJECTIVE_SAMPLERS.has(s.sampler.type)) {
      ctx.addIssue({ code: 'custom', path: ['sampler', 'type'], message: `"${s.sampler.type}" optimises one objective; use "nsga2" or "random" for ${s.objectives.length}` });
    }
    if (s.objectives.length > 1 && s.pruner.type !== 'none') {
      ctx.addIssue({ code: 'custom', path: ['pruner', 'type'], message: 'pruning needs a single objective (as in Optuna)' });
    }
    if (s.enqueueTrials.length > s.budget.maxTrials) {
      ctx.addIssue({ code: 'custom', path: ['enqueueTrials'], message: `${s.enqueueTrials.length} enqueued trials exceed budget.maxTrials ${s.budget.maxTrials}` });
    }
    // The cross-field rules of a training job (views vs columns, masks) apply to the base too.
    const base = createTrainingJobSchema.safeParse({ ...s.baseTrainingJob, name: s.name });
    if (!base.success) {
      for (const i of base.error.issues) ctx.addIssue({ code: 'custom', path: ['baseTrainingJob', ...i.path.map((p) => (typeof p === 'symbol' ? String(p) : p))], message: i.message });
      return;
    }
    for (const issue of searchSpaceIssuesAgainstJob(s.searchSpace, s.baseTrainingJob)) ctx.addIssue({ code: 'custom', ...issue });
    s.enqueueTrials.forEach((params, i) => {
      for (const issue of enqueuedParamsIssues(s.searchSpace, params)) ctx.addIssue({ code: 'custom', path: ['enqueueTrials', i, ...issue.path], message: issue.message });
    });
  });
export type CreateSweep = z.infer<typeof createSweepSchema>;

/**
 * Whether chosen parameters fit the space: every name is a parameter and every value in its
 * domain. Parameters left out are sampled when the trial starts (as Optuna's enqueue_trial).
 */
export function enqueuedParamsIssues(space: SearchSpace, params: TrialParams): { path: string[]; message: string }[] {
  const issues: { path: string[]; message: string }[] = [];
  for (const [name, value] of Object.entries(params)) {
    const spec = Object.hasOwn(space, name) ? space[name] : undefined;
    if (!spec) issues.push({ path: [name], message: `"${name}" is not a parameter of the search space (${Object.keys(space).join(', ')})` });
    else if (!isInDomain(spec, value)) issues.push({ path: [name], message: `${JSON.stringify(value)} is outside the domain of "${name}"` });
  }
  return issues;
}

export const enqueueTrialSchema = z.strictObject({
  params: z.record(z.string(), choiceValueSchema),
});
export type EnqueueTrial = z.infer<typeof enqueueTrialSchema>;

export const listSweepsQuerySchema = z.strictObject({
  status: sweepStatusSchema.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  offset: z.coerce.number().int().min(0).default(0),
});
export type ListSweepsQuery = z.infer<typeof listSweepsQuerySchema>;

export const listTrialsQuerySchema = z.strictObject({
  state: sweepTrialStateSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});
export type ListTrialsQuery = z.infer<typeof listTrialsQuerySchema>;
