import { RNG_PURPOSE, tuningRng } from '../random/tuning-rng.js';
import { isParamActive, paramsInSamplingOrder, type NamedParam, type ParamValues } from '../space/param-order.js';
import { isInDomain, type ChoiceValue, type ParamSpec, type SearchSpace } from '../space/search-space.schema.js';
import type { Proposal, SampleRequest, Sampler } from './sampler.js';

export interface GridSamplerOptions {
  /** Grid values per parameter: required for floats without a step, optional elsewhere. */
  values?: Record<string, readonly ChoiceValue[]>;
  /** Refuse grids with more points than this (default 100 000). */
  maxPoints?: number;
}

export class GridError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GridError';
  }
}

const GRID_ATTR = 'gridIndex';

function valuesOf(name: string, spec: ParamSpec, options: GridSamplerOptions): readonly ChoiceValue[] {
  const given = options.values?.[name];
  if (given) {
    if (given.length === 0) throw new GridError(`grid values for "${name}" are empty`);
    given.forEach((v, i) => {
      if (!isInDomain(spec, v)) throw new GridError(`grid value ${JSON.stringify(v)} at ${name}[${i}] is outside the domain of "${name}"`);
    });
    return given;
  }
  if (spec.type === 'categorical') return spec.choices;
  if (spec.type === 'float' && spec.step === undefined) {
    throw new GridError(`"${name}" is a continuous float: give its grid values in options.values.${name}, or a step`);
  }
  const step = spec.step!;
  const count = Math.round((spec.high - spec.low) / step) + 1;
  const limit = options.maxPoints ?? 100_000;
  if (count > limit) throw new GridError(`"${name}" alone has ${count} grid values (more than ${limit}); give fewer values in options.values.${name}`);
  return Array.from({ length: count }, (_, i) => (spec.type === 'float' ? Number((spec.low + i * step).toPrecision(12)) : spec.low + i * step));
}

/**
 * Every combination of grid values, conditional parameters included only where active (so a
 * parameter that belongs to one choice of its parent does not multiply the others' points).
 */
export function enumerateGrid(space: SearchSpace, options: GridSamplerOptions = {}): ParamValues[] {
  const order = paramsInSamplingOrder(space);
  const limit = options.maxPoints ?? 100_000;
  const domain = new Map(order.map(({ name, spec }) => [name, valuesOf(name, spec, options)]));
  const points: ParamValues[] = [];
  const walk = (i: number, chosen: ParamValues): void => {
    if (i === order.length) {
      points.push({ ...chosen });
      if (points.length > limit) throw new GridError(`the grid has more than ${limit} points; give fewer values per parameter`);
      return;
    }
    const { name, spec } = order[i] as NamedParam;
    if (!isParamActive(spec, chosen)) return walk(i + 1, chosen);
    for (const v of domain.get(name)!) {
      chosen[name] = v;
      walk(i + 1, chosen);
    }
    delete chosen[name];
  };
  walk(0, {});
  return points;
}

/**
 * Visits the grid in a seeded order, skipping points that any trial (running or finished) already
 * holds; throws GridError when every point has been proposed.
 */
export function createGridSampler(options: GridSamplerOptions = {}): Sampler {
  let cached: { key: string; points: ParamValues[] } | undefined;
  return {
    name: 'grid',
    propose(request: SampleRequest): Proposal {
      const key = JSON.stringify(request.space);
      if (cached?.key !== key) cached = { key, points: enumerateGrid(request.space, options) };
      const points = cached.points;
      const used = new Set<number>();
      for (const t of request.trials) {
        const idx = t.samplerAttrs[GRID_ATTR];
        if (t.number !== request.trialNumber && idx !== undefined) used.add(idx);
      }
      const order = seededOrder(points.length, request.seed);
      for (const idx of order) {
        if (!used.has(idx)) return { params: { ...points[idx]! }, samplerAttrs: { [GRID_ATTR]: idx } };
      }
      throw new GridError(`the grid is exhausted: all ${points.length} points have been proposed`);
    },
  };
}

function seededOrder(n: number, seed: number): number[] {
  const rng = tuningRng(seed, RNG_PURPOSE.grid);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}
