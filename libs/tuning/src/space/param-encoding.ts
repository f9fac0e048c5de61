import type { ChoiceValue, NumericParam } from './search-space.schema.js';

const { log, exp, round, min, max } = Math;

/**
 * Numeric parameters in a unit interval, for the samplers that work in a normalised space (CMA-ES,
 * NSGA-II). Log parameters are spread evenly in log space; stepped and int parameters own a cell of
 * width `step` around each grid point, so every grid value gets the same share of [0, 1].
 */
function bounds(spec: NumericParam): { lo: number; hi: number } {
  const step = discreteStep(spec);
  if (spec.log) {
    return step === undefined ? { lo: log(spec.low), hi: log(spec.high) } : { lo: log(spec.low - step / 2), hi: log(spec.high + step / 2) };
  }
  return step === undefined ? { lo: spec.low, hi: spec.high } : { lo: spec.low - step / 2, hi: spec.high + step / 2 };
}

/** The grid spacing of a discrete numeric parameter, undefined for a continuous one. */
export function discreteStep(spec: NumericParam): number | undefined {
  return spec.step;
}

export function numericToUnit(spec: NumericParam, value: number): number {
  const { lo, hi } = bounds(spec);
  if (hi === lo) return 0.5;
  const x = spec.log ? log(value) : value;
  return min(1, max(0, (x - lo) / (hi - lo)));
}

export function numericFromUnit(spec: NumericParam, unit: number): number {
  const { lo, hi } = bounds(spec);
  const u = min(1, max(0, unit));
  const x = lo + u * (hi - lo);
  return snapNumeric(spec, spec.log ? exp(x) : x);
}

/** Rounds to the parameter's grid (int, step) and clips into [low, high]. */
export function snapNumeric(spec: NumericParam, value: number): number {
  const step = discreteStep(spec);
  let v = value;
  if (step !== undefined) {
    v = spec.low + round((v - spec.low) / step) * step;
    // Keep float steps free of representation noise (0.1 * 3 = 0.30000000000000004).
    if (spec.type === 'float') v = Number(v.toPrecision(12));
  }
  return min(spec.high, max(spec.low, v));
}

/** Index of a categorical value among its choices (-1 when it is not one). */
export function choiceIndex(choices: readonly ChoiceValue[], value: ChoiceValue | undefined): number {
  return value === undefined ? -1 : choices.indexOf(value);
}
