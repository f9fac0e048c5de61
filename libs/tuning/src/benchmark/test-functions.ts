import type { SearchSpace } from '../space/search-space.schema.js';
import type { ParamValues } from '../space/param-order.js';

/**
 * Standard optimisation test functions, for the quality tests and bench/sweeps. Each comes with
 * its usual domain as a search space and its known optimum.
 */
export interface TestFunction {
  name: string;
  space: SearchSpace;
  /** Known global minimum. */
  optimum: number;
  evaluate(params: ParamValues): number;
}

const { cos, exp, PI, sqrt } = Math;

function boxSpace(prefix: string, dims: number, low: number, high: number): SearchSpace {
  const space: SearchSpace = {};
  for (let i = 0; i < dims; i++) space[`${prefix}${i}`] = { type: 'float', low, high, log: false };
  return space;
}

function vector(params: ParamValues, prefix: string, dims: number): number[] {
  return Array.from({ length: dims }, (_, i) => params[`${prefix}${i}`] as number);
}

/** Branin on x0 in [-5, 10], x1 in [0, 15]; minimum 0.397887 at three points. */
export const branin: TestFunction = {
  name: 'branin',
  space: { x0: { type: 'float', low: -5, high: 10, log: false }, x1: { type: 'float', low: 0, high: 15, log: false } },
  optimum: 0.39788735772973816,
  evaluate(p) {
    const x0 = p['x0'] as number;
    const x1 = p['x1'] as number;
    const b = 5.1 / (4 * PI * PI);
    const c = 5 / PI;
    const t = 1 / (8 * PI);
    return (x1 - b * x0 * x0 + c * x0 - 6) ** 2 + 10 * (1 - t) * cos(x0) + 10;
  },
};

const H6_ALPHA = [1.0, 1.2, 3.0, 3.2];
const H6_A = [
  [10, 3, 17, 3.5, 1.7, 8],
  [0.05, 10, 17, 0.1, 8, 14],
  [3, 3.5, 1.7, 10, 17, 8],
  [17, 8, 0.05, 10, 0.1, 14],
];
const H6_P = [
  [1312, 1696, 5569, 124, 8283, 5886],
  [2329, 4135, 8307, 3736, 1004, 9991],
  [2348, 1451, 3522, 2883, 3047, 6650],
  [4047, 8828, 8732, 5743, 1091, 381],
].map((row) => row.map((v) => v * 1e-4));

/** Hartmann-6 on [0, 1]^6; minimum -3.32237. */
export const hartmann6: TestFunction = {
  name: 'hartmann6',
  space: boxSpace('x', 6, 0, 1),
  optimum: -3.3223680114155147,
  evaluate(p) {
    const x = vector(p, 'x', 6);
    let f = 0;
    for (let i = 0; i < 4; i++) {
      let inner = 0;
      for (let j = 0; j < 6; j++) inner += H6_A[i]![j]! * (x[j]! - H6_P[i]![j]!) ** 2;
      f -= H6_ALPHA[i]! * exp(-inner);
    }
    return f;
  },
};

/** Rosenbrock in `dims` dimensions on [-5, 10]^dims; minimum 0 at (1, ..., 1). */
export function rosenbrock(dims: number): TestFunction {
  return {
    name: `rosenbrock${dims}`,
    space: boxSpace('x', dims, -5, 10),
    optimum: 0,
    evaluate(p) {
      const x = vector(p, 'x', dims);
      let f = 0;
      for (let i = 0; i < dims - 1; i++) f += 100 * (x[i + 1]! - x[i]! ** 2) ** 2 + (1 - x[i]!) ** 2;
      return f;
    },
  };
}

/** Sphere in `dims` dimensions on [-5, 5]^dims; minimum 0 at the origin. */
export function sphere(dims: number): TestFunction {
  return {
    name: `sphere${dims}`,
    space: boxSpace('x', dims, -5, 5),
    optimum: 0,
    evaluate(p) {
      return vector(p, 'x', dims).reduce((s, v) => s + v * v, 0);
    },
  };
}

/**
 * ZDT1, two objectives to minimise on [0, 1]^dims. Its Pareto front is f2 = 1 - sqrt(f1) for f1 in
 * [0, 1], whose hypervolume against the reference point (1, 1) is exactly 2/3.
 */
export function zdt1(dims: number): { name: string; space: SearchSpace; evaluate(params: ParamValues): [number, number] } {
  return {
    name: `zdt1-${dims}`,
    space: boxSpace('x', dims, 0, 1),
    evaluate(p) {
      const x = vector(p, 'x', dims);
      const f1 = x[0]!;
      let rest = 0;
      for (let i = 1; i < dims; i++) rest += x[i]!;
      const g = 1 + (9 * rest) / (dims - 1);
      return [f1, g * (1 - sqrt(f1 / g))];
    },
  };
}
