import type { Direction } from '../trial/trial.js';

/** Objective vectors turned into "lower is better" in every coordinate. */
export function toMinimization(values: readonly number[], directions: readonly Direction[]): number[] {
  return values.map((v, i) => (directions[i] === 'maximize' ? -v : v));
}

/** a dominates b (minimisation): no worse everywhere and better somewhere. */
export function dominates(a: readonly number[], b: readonly number[]): boolean {
  let better = false;
  for (let i = 0; i < a.length; i++) {
    if (a[i]! > b[i]!) return false;
    if (a[i]! < b[i]!) better = true;
  }
  return better;
}

/** Fast non-dominated sort (Deb et al. 2002): indices per front, best front first. */
export function nonDominatedFronts(points: readonly (readonly number[])[]): number[][] {
  const n = points.length;
  const dominatedBy: number[][] = points.map(() => []);
  const count = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (dominates(points[i]!, points[j]!)) {
        dominatedBy[i]!.push(j);
        count[j]!++;
      } else if (dominates(points[j]!, points[i]!)) {
        dominatedBy[j]!.push(i);
        count[i]!++;
      }
    }
  }
  const fronts: number[][] = [];
  let current = count.map((c, i) => (c === 0 ? i : -1)).filter((i) => i >= 0);
  while (current.length > 0) {
    fronts.push(current);
    const next: number[] = [];
    for (const i of current) {
      for (const j of dominatedBy[i]!) if (--count[j]! === 0) next.push(j);
    }
    current = next.sort((a, b) => a - b);
  }
  return fronts;
}

/** Crowding distance of each member of one front (boundary points get Infinity). */
export function crowdingDistances(points: readonly (readonly number[])[], front: readonly number[]): Map<number, number> {
  const distance = new Map<number, number>(front.map((i) => [i, 0]));
  if (front.length <= 2) {
    for (const i of front) distance.set(i, Infinity);
    return distance;
  }
  const m = points[front[0]!]!.length;
  for (let k = 0; k < m; k++) {
    const sorted = [...front].sort((a, b) => points[a]![k]! - points[b]![k]! || a - b);
    const lo = points[sorted[0]!]![k]!;
    const hi = points[sorted[sorted.length - 1]!]![k]!;
    distance.set(sorted[0]!, Infinity);
    distance.set(sorted[sorted.length - 1]!, Infinity);
    if (hi === lo) continue;
    for (let r = 1; r < sorted.length - 1; r++) {
      const i = sorted[r]!;
      distance.set(i, distance.get(i)! + (points[sorted[r + 1]!]![k]! - points[sorted[r - 1]!]![k]!) / (hi - lo));
    }
  }
  return distance;
}

/**
 * Exact hypervolume of a two-objective point set (minimisation) against a reference point: the
 * area dominated by the set and bounded by the reference. Points not better than the reference in
 * both objectives add nothing.
 */
export function hypervolume2d(points: readonly (readonly number[])[], reference: readonly [number, number]): number {
  const inside = points.filter((p) => p[0]! < reference[0] && p[1]! < reference[1]).sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let area = 0;
  let ceiling = reference[1];
  for (const p of inside) {
    if (p[1]! >= ceiling) continue; // dominated by a point with smaller f1
    area += (reference[0] - p[0]!) * (ceiling - p[1]!);
    ceiling = p[1]!;
  }
  return area;
}
