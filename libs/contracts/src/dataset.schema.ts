import { z } from 'zod';

const count = z.int().min(0).max(2 ** 31 - 1);

export const registerDatasetSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    description: z.string().max(5000).default(''),
    /** Folder (or URI) that the workers read; the gateway does not need to see it. */
    dataPath: z.string().trim().min(1).max(4096),
    numSamples: count,
    numClasses: z.int().min(1).max(100000),
    trainSamples: count.default(0),
    valSamples: count.default(0),
    testSamples: count.default(0),
    classDistribution: z.record(z.string().min(1).max(200), count).optional(),
    tags: z.array(z.string().min(1).max(100)).max(50).default([]),
  })
  .superRefine((d, ctx) => {
    if (d.trainSamples + d.valSamples + d.testSamples > d.numSamples) {
      ctx.addIssue({
        code: 'custom',
        path: ['numSamples'],
        message: `must be at least trainSamples + valSamples + testSamples (${d.trainSamples + d.valSamples + d.testSamples})`,
      });
    }
    if (d.classDistribution) {
      const classes = Object.keys(d.classDistribution).length;
      if (classes > d.numClasses) {
        ctx.addIssue({ code: 'custom', path: ['classDistribution'], message: `has ${classes} classes but numClasses is ${d.numClasses}` });
      }
      const total = Object.values(d.classDistribution).reduce((a, b) => a + b, 0);
      if (total !== d.numSamples) {
        ctx.addIssue({ code: 'custom', path: ['classDistribution'], message: `counts sum to ${total} but numSamples is ${d.numSamples}` });
      }
    }
  });
export type RegisterDataset = z.infer<typeof registerDatasetSchema>;
