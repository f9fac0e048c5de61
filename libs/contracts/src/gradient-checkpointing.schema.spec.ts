import { createTrainingJobSchema, modelConfigSchema } from './training-job.schema.js';

describe('modelConfig.gradientCheckpointing', () => {
  it('is off unless asked for, also in a job that leaves modelConfig out', () => {
    expect(modelConfigSchema.parse({}).gradientCheckpointing).toBe(false);
    const job = createTrainingJobSchema.parse({ name: 'j', dataConfig: { datasetId: '6f1c1a39-1d5e-4c36-9c1e-2b9f4a1d7e01' }, trainingConfig: { epochs: 1 } });
    expect(job.modelConfig.gradientCheckpointing).toBe(false);
  });

  it('takes a boolean for any backbone, and refuses anything else naming the field', () => {
    for (const backbone of ['small_cnn', 'resnet34', 'densenet121', 'vit_tiny'] as const) {
      expect(modelConfigSchema.parse({ backbone, gradientCheckpointing: true }).gradientCheckpointing).toBe(true);
    }
    for (const value of ['true', 1, null]) {
      const r = modelConfigSchema.safeParse({ gradientCheckpointing: value });
      expect(r.success).toBe(false);
      expect(r.error!.issues[0]!.path).toEqual(['gradientCheckpointing']);
    }
  });
});
