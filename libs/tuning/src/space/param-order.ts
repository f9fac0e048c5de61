import type { ChoiceValue, ParamSpec, SearchSpace } from './search-space.schema.js';

/** Values of one trial's active parameters, by name (plain JSON). */
export type ParamValues = Record<string, ChoiceValue>;

export interface NamedParam {
  name: string;
  spec: ParamSpec;
}

/**
 * The parameters in sampling order: parents before the parameters they condition, otherwise in
 * the order the space lists them (so the order, and with it every seeded draw, is stable).
 */
export function paramsInSamplingOrder(space: SearchSpace): NamedParam[] {
  const names = Object.keys(space);
  const placed = new Set<string>();
  const order: NamedParam[] = [];
  const place = (name: string): void => {
    if (placed.has(name)) return;
    const parent = space[name]!.condition?.parent;
    if (parent !== undefined) place(parent);
    placed.add(name);
    order.push({ name, spec: space[name]! });
  };
  names.forEach(place);
  return order;
}

/** Whether a parameter is active given the values already chosen for its ancestors. */
export function isParamActive(spec: ParamSpec, chosen: Readonly<ParamValues>): boolean {
  const condition = spec.condition;
  if (!condition) return true;
  if (!Object.hasOwn(chosen, condition.parent)) return false;
  return condition.values.includes(chosen[condition.parent]!);
}
