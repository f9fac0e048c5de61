import { crowdingDistances, nonDominatedFronts, toMinimization } from '../pareto/non-dominated-sort.js';
import { RNG_PURPOSE, tuningRng, type TuningRng } from '../random/tuning-rng.js';
import { isParamActive, paramsInSamplingOrder, type ParamValues } from '../space/param-order.js';
import { numericFromUnit, numericToUnit } from '../space/param-encoding.js';
import { isInDomain } from '../space/search-space.schema.js';
import type { Direction, Trial } from '../trial/trial.js';
import { GenerationMemo, completeTrialsByGeneration } from './generation-replay.js';
import { completeParamsUniformly, sampleParamUniformly } from './random-sampler.js';
import { directionsOf, otherTrials, type Proposal, type SampleRequest, type Sampler } from './sampler.js';
import { polynomialMutation, simulatedBinaryCrossover } from './nsga2/variation-operators.js';

export interface Nsga2SamplerOptions {
  /** Individuals per generation (default 50, as Optuna). */
  populationSize?: number;
  /** Probability that a child is a crossover of its two parents rather than a copy (0.9). */
  crossoverProb?: number;
  /** Per numeric parameter, probability of SBX given crossover (0.5, Deb's reference code). */
  sbxProb?: number;
  sbxEta?: number;
  /** Per categorical parameter, probability of taking the second parent's choice (0.5). */
  swappingProb?: number;
  /** Per parameter mutation probability (default 1 / number of parameters). */
  mutationProb?: number;
  mutationEta?: number;
}

const GENERATION_ATTR = 'nsgaGeneration';

interface Member {
  trial: Trial;
  objectives: number[];
  rank: number;
  crowding: number;
}

/**
 * NSGA-II for one or more objectives. Generation 0 is random; each later generation's parents are
 * the elite (non-dominated rank, then crowding distance) of the previous parents and the previous
 * generation's first `populationSize` complete trials. A child comes from two binary tournaments,
 * SBX (numeric, in the unit box) or uniform crossover (categorical), then polynomial mutation or a
 * fresh draw. Generations are recorded in `samplerAttrs.nsgaGeneration` and replayed from trials.
 */
export function createNsga2Sampler(options: Nsga2SamplerOptions = {}): Sampler {
  const populationSize = options.populationSize ?? 50;
  if (!Number.isInteger(populationSize) || populationSize < 2) throw new Error(`populationSize must be an integer >= 2, got ${populationSize}`);
  let memo: { directionsKey: string; memo: GenerationMemo<Member[]> } | undefined;
  return {
    name: 'nsga2',
    propose(request: SampleRequest): Proposal {
      const directions = directionsOf(request);
      const rng = tuningRng(request.seed, request.trialNumber, RNG_PURPOSE.nsga2);
      const directionsKey = directions.join(',');
      if (memo?.directionsKey !== directionsKey) memo = { directionsKey, memo: new GenerationMemo<Member[]>([]) };
      const byGeneration = completeTrialsByGeneration(otherTrials(request), GENERATION_ATTR, (t) => t.values!.length === directions.length);
      let g = 0;
      let population: Member[] = [];
      for (;;) {
        const members = byGeneration.get(g) ?? [];
        if (members.length < populationSize) break;
        const told = members.slice(0, populationSize);
        population = memo.memo.after(g, told, (parents) => selectElite([...parents.map((m) => m.trial), ...told], directions, populationSize));
        g++;
      }
      const samplerAttrs = { [GENERATION_ATTR]: g };
      if (g === 0) return { params: completeParamsUniformly(request.space, {}, rng), samplerAttrs };
      const parentA = tournament(population, rng).trial.params;
      const parentB = tournament(population, rng).trial.params;
      return { params: makeChild(request, parentA, parentB, rng, options), samplerAttrs };
    },
  };
}

/** The best `size` of `trials`: whole fronts first, the last front cut by crowding distance. */
function selectElite(trials: readonly Trial[], directions: readonly Direction[], size: number): Member[] {
  const objectives = trials.map((t) => toMinimization(t.values!, directions));
  const fronts = nonDominatedFronts(objectives);
  const chosen: Member[] = [];
  for (const front of fronts) {
    if (chosen.length >= size) break;
    const crowding = crowdingDistances(objectives, front);
    const ordered = [...front].sort((a, b) => crowding.get(b)! - crowding.get(a)! || trials[a]!.number - trials[b]!.number);
    for (const i of ordered.slice(0, size - chosen.length)) chosen.push({ trial: trials[i]!, objectives: objectives[i]!, rank: 0, crowding: 0 });
  }
  // Rank and crowding within the selected population drive the tournaments.
  const popObjectives = chosen.map((m) => m.objectives);
  nonDominatedFronts(popObjectives).forEach((front, rank) => {
    const crowding = crowdingDistances(popObjectives, front);
    for (const i of front) {
      chosen[i]!.rank = rank;
      chosen[i]!.crowding = crowding.get(i)!;
    }
  });
  return chosen;
}

function tournament(population: readonly Member[], rng: TuningRng): Member {
  const a = population[rng.int(population.length)]!;
  const b = population[rng.int(population.length)]!;
  if (a.rank !== b.rank) return a.rank < b.rank ? a : b;
  if (a.crowding !== b.crowding) return a.crowding > b.crowding ? a : b;
  return a.trial.number <= b.trial.number ? a : b;
}

function makeChild(request: SampleRequest, a: ParamValues, b: ParamValues, rng: TuningRng, options: Nsga2SamplerOptions): ParamValues {
  const order = paramsInSamplingOrder(request.space);
  const crossover = rng.next() < (options.crossoverProb ?? 0.9);
  const mutationProb = options.mutationProb ?? 1 / order.length;
  const child: ParamValues = {};
  for (const { name, spec } of order) {
    if (!isParamActive(spec, child)) continue;
    const va = name in a && isInDomainLoose(spec, a[name]) ? a[name] : undefined;
    const vb = name in b && isInDomainLoose(spec, b[name]) ? b[name] : undefined;
    // A parameter inactive in both parents (conditional) starts from a fresh draw.
    if (va === undefined && vb === undefined) {
      child[name] = sampleParamUniformly(spec, rng);
      continue;
    }
    const first = va ?? vb!;
    const second = vb ?? va!;
    if (spec.type === 'categorical') {
      let v = crossover && rng.next() < (options.swappingProb ?? 0.5) ? second : first;
      if (rng.next() < mutationProb) v = sampleParamUniformly(spec, rng);
      child[name] = v;
    } else {
      let u = numericToUnit(spec, first as number);
      if (crossover && rng.next() < (options.sbxProb ?? 0.5)) u = simulatedBinaryCrossover(u, numericToUnit(spec, second as number), options.sbxEta ?? 20, rng)[0];
      if (rng.next() < mutationProb) u = polynomialMutation(u, options.mutationEta ?? 20, rng);
      child[name] = numericFromUnit(spec, u);
    }
  }
  return child;
}

/** Parents from an older space version may hold values the current space no longer allows. */
function isInDomainLoose(spec: Parameters<typeof isInDomain>[0], value: unknown): boolean {
  return spec.type === 'categorical' ? isInDomain(spec, value) : typeof value === 'number' && Number.isFinite(value);
}
