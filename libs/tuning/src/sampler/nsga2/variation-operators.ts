import type { TuningRng } from '../../random/tuning-rng.js';

const { abs, min, max, pow } = Math;

/**
 * Simulated binary crossover on [0, 1] (Deb and Agrawal, bounded form as in the NSGA-II reference
 * code): two children spread around the parents with a spread controlled by `eta`.
 */
export function simulatedBinaryCrossover(a: number, b: number, eta: number, rng: TuningRng): [number, number] {
  if (abs(a - b) < 1e-14) return [a, b];
  const y1 = min(a, b);
  const y2 = max(a, b);
  const u = rng.next();
  const spread = (beta: number): number => {
    const alpha = 2 - pow(beta, -(eta + 1));
    return u <= 1 / alpha ? pow(u * alpha, 1 / (eta + 1)) : pow(1 / (2 - u * alpha), 1 / (eta + 1));
  };
  const c1 = 0.5 * (y1 + y2 - spread(1 + (2 * y1) / (y2 - y1)) * (y2 - y1));
  const c2 = 0.5 * (y1 + y2 + spread(1 + (2 * (1 - y2)) / (y2 - y1)) * (y2 - y1));
  const children: [number, number] = [min(1, max(0, c1)), min(1, max(0, c2))];
  return rng.next() < 0.5 ? children : [children[1], children[0]];
}

/** Polynomial mutation on [0, 1] (Deb's bounded form). */
export function polynomialMutation(y: number, eta: number, rng: TuningRng): number {
  const r = rng.next();
  const power = 1 / (eta + 1);
  let deltaQ: number;
  if (r < 0.5) {
    const val = 2 * r + (1 - 2 * r) * pow(1 - y, eta + 1);
    deltaQ = pow(val, power) - 1;
  } else {
    const val = 2 * (1 - r) + 2 * (r - 0.5) * pow(y, eta + 1);
    deltaQ = 1 - pow(val, power);
  }
  return min(1, max(0, y + deltaQ));
}
