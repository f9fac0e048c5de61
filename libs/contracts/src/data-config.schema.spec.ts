import { dataConfigSchema } from './training-job.schema.js';

const datasetId = '7f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b';

describe('dataConfig.dicomWindow', () => {
  it('is optional and kept as given', () => {
    expect(dataConfigSchema.parse({ datasetId }).dicomWindow).toBeUndefined();
    expect(dataConfigSchema.parse({ datasetId, dicomWindow: { center: 40, width: 400 } }).dicomWindow).toEqual({ center: 40, width: 400 });
  });

  it('refuses a window narrower than 1 or with unknown fields, naming the field', () => {
    const narrow = dataConfigSchema.safeParse({ datasetId, dicomWindow: { center: 40, width: 0 } });
    expect(narrow.success).toBe(false);
    expect(narrow.error!.issues).toEqual([expect.objectContaining({ path: ['dicomWindow', 'width'], message: 'a DICOM window is at least 1 wide' })]);
    const extra = dataConfigSchema.safeParse({ datasetId, dicomWindow: { center: 40, width: 400, level: 1 } });
    expect(extra.error!.issues[0]).toMatchObject({ path: ['dicomWindow'], code: 'unrecognized_keys' });
  });
});
