import type { CreateSweep } from '@medfusion/contracts';
import {
  createCmaEsSampler,
  createGridSampler,
  createHyperbandPruner,
  createMedianPruner,
  createNsga2Sampler,
  createPercentilePruner,
  createRandomSampler,
  createSuccessiveHalvingPruner,
  createTpeSampler,
  type Pruner,
  type Sampler,
} from '@medfusion/tuning';

/** The sampler a sweep's configuration names, with its options. */
export function samplerFor(config: CreateSweep): Sampler {
  const s = config.sampler;
  switch (s.type) {
    case 'random':
      return createRandomSampler();
    case 'grid':
      return createGridSampler(s.options);
    case 'tpe':
      return createTpeSampler(s.options);
    case 'cmaes':
      return createCmaEsSampler(s.options);
    case 'nsga2':
      return createNsga2Sampler(s.options);
  }
}

/**
 * The pruner a sweep's configuration names, judging the first objective in its direction; null for
 * `none`. Steps are epochs.
 */
export function prunerFor(config: CreateSweep): Pruner | null {
  const p = config.pruner;
  const direction = config.objectives[0]!.direction;
  switch (p.type) {
    case 'none':
      return null;
    case 'median':
      return createMedianPruner({ ...p.options, direction });
    case 'percentile': {
      const { percentile, ...options } = p.options;
      return createPercentilePruner(percentile, { ...options, direction });
    }
    case 'successive_halving':
      return createSuccessiveHalvingPruner({ ...p.options, direction });
    case 'hyperband':
      return createHyperbandPruner({ ...p.options, direction, seed: config.seed });
  }
}
