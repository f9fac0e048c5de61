import { createTrainingJobSchema, dataConfigSchema, modelConfigSchema } from './training-job.schema.js';

const datasetId = '6f1c1a39-1d5e-4c36-9c1e-2b9f4a1d7e01';
const job = (modelConfig: object, dataConfig: object = {}) => ({ name: 'j', modelConfig, dataConfig: { datasetId, ...dataConfig }, trainingConfig: { epochs: 1 } });

function issues(result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }): { path: string; message: string }[] {
  expect(result.success).toBe(false);
  return result.error!.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

describe('views and attentionSupervision in the job contract', () => {
  it('defaults to one view and no attention supervision', () => {
    const m = modelConfigSchema.parse({});
    expect(m.views).toEqual({ count: 1, aggregation: 'mean', viewLossWeight: 0.1 });
    expect(m.attentionSupervision).toBeUndefined();
    expect(createTrainingJobSchema.safeParse(job({})).success).toBe(true);
  });

  it('accepts a multi-view job whose viewColumns match views.count, and a supervised one with a mask column', () => {
    expect(createTrainingJobSchema.safeParse(job({ views: { count: 2, aggregation: 'attention' } }, { viewColumns: ['cc', 'mlo'] })).success).toBe(true);
    const supervised = createTrainingJobSchema.parse(job({ attentionSupervision: { type: 'cam' } }, { maskColumn: 'mask' }));
    expect(supervised.modelConfig.attentionSupervision).toEqual({ type: 'cam', weight: 0.5 });
  });

  it('refuses mismatches and bounds with messages naming the field', () => {
    expect(issues(createTrainingJobSchema.safeParse(job({ views: { count: 3 } }, { viewColumns: ['cc', 'mlo'] })))).toEqual([
      { path: 'dataConfig.viewColumns', message: 'modelConfig.views.count is 3 but dataConfig names 2 viewColumns' },
    ]);
    expect(issues(createTrainingJobSchema.safeParse(job({ views: { count: 2 } })))[0]!.message).toContain('has no viewColumns');
    expect(issues(createTrainingJobSchema.safeParse(job({ attentionSupervision: { type: 'mask' } })))).toEqual([
      { path: 'dataConfig.maskColumn', message: 'modelConfig.attentionSupervision needs dataConfig.maskColumn (the region-mask image column)' },
    ]);
    expect(issues(modelConfigSchema.safeParse({ views: { count: 17 } }))).toEqual([{ path: 'views.count', message: 'views.count must be at most 16' }]);
    expect(issues(modelConfigSchema.safeParse({ views: { count: 2, aggregation: 'sum' } }))[0]!.path).toBe('views.aggregation');
    expect(issues(modelConfigSchema.safeParse({ views: { count: 2, viewLossWeight: 11 } }))).toEqual([{ path: 'views.viewLossWeight', message: 'views.viewLossWeight must be at most 10' }]);
    expect(issues(modelConfigSchema.safeParse({ attentionSupervision: { type: 'mask', weight: -1 } }))).toEqual([
      { path: 'attentionSupervision.weight', message: 'attentionSupervision.weight must be at least 0' },
    ]);
    expect(issues(modelConfigSchema.safeParse({ backbone: 'vit_tiny', attentionSupervision: { type: 'mask' } }))[0]!.path).toBe('attentionSupervision');
    expect(issues(modelConfigSchema.safeParse({ views: { count: 2 }, attentionSupervision: { type: 'mask' } }))[0]!.message).toContain('views.count > 1');
    expect(issues(dataConfigSchema.safeParse({ datasetId, viewColumns: ['cc'] }))[0]!.message).toContain('at least 2 columns');
    expect(issues(dataConfigSchema.safeParse({ datasetId, viewColumns: ['cc', 'cc'] }))).toEqual([{ path: 'viewColumns.1', message: '"cc" is named twice in viewColumns' }]);
  });
});
