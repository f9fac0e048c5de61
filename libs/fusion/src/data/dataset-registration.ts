import type { RegisterDataset } from '@medfusion/contracts';
import type { DatasetStats } from './synthetic-dataset.js';

/** The `POST /datasets` body that registers a generated data set found at `dataPath`. */
export function registrationOf(stats: DatasetStats, dataPath: string, name: string, extra: Partial<RegisterDataset> = {}): RegisterDataset {
  return {
    name,
    description: 'Synthetic lesion images + 16 clinical features; the label needs both modalities.',
    dataPath,
    numSamples: stats.numSamples,
    numClasses: stats.numClasses,
    trainSamples: stats.trainSamples,
    valSamples: stats.valSamples,
    testSamples: stats.testSamples,
    classDistribution: stats.classDistribution,
    tags: ['synthetic'],
    ...extra,
  };
}
