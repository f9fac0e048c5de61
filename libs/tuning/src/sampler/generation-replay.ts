import type { Trial } from '../trial/trial.js';

/**
 * Shared bookkeeping of the generational samplers (CMA-ES, NSGA-II): which complete trials belong
 * to which generation, and a per-instance memo of replayed generations. The memo only saves work:
 * a generation is reused when the same trials with the same values were told, else recomputed.
 */
export function completeTrialsByGeneration(trials: readonly Trial[], attr: string, accept: (t: Trial) => boolean): Map<number, Trial[]> {
  const out = new Map<number, Trial[]>();
  for (const t of inNumberOrder(trials)) {
    const g = t.samplerAttrs[attr];
    if (g === undefined || t.state !== 'complete' || !t.values || !accept(t)) continue;
    let bucket = out.get(g);
    if (!bucket) out.set(g, (bucket = []));
    bucket.push(t);
  }
  return out;
}

/** Trials by number; drivers usually pass them in order already, so only sort when needed. */
export function inNumberOrder(trials: readonly Trial[]): readonly Trial[] {
  for (let i = 1; i < trials.length; i++) if (trials[i]!.number < trials[i - 1]!.number) return [...trials].sort((a, b) => a.number - b.number);
  return trials;
}

export class GenerationMemo<S> {
  private told: { number: number; values: readonly number[] }[][] = [];
  private states: S[];

  constructor(initial: S) {
    this.states = [initial];
  }

  /** The state after generation g given the trials told to it, computing it when not memoised. */
  after(g: number, told: readonly Trial[], compute: (previous: S) => S): S {
    const known = this.told[g];
    if (known && known.length === told.length && known.every((k, i) => k.number === told[i]!.number && sameValues(k.values, told[i]!.values!))) return this.states[g + 1]!;
    const next = compute(this.states[g]!);
    this.told.length = g;
    this.states.length = g + 1;
    this.told.push(told.map((t) => ({ number: t.number, values: t.values! })));
    this.states.push(next);
    return next;
  }
}

function sameValues(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
