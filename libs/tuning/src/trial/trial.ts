import { z } from 'zod';
import { choiceValueSchema } from '../space/search-space.schema.js';

/**
 * A trial as the scheduler stores it: plain JSON, nothing hidden in a sampler object. Samplers and
 * pruners take the list of trials and decide from it alone, so a driver that restarts and reads
 * its trials back from Postgres carries on exactly where it stopped.
 */
export const TRIAL_STATES = ['running', 'complete', 'pruned', 'failed'] as const;
export type TrialState = (typeof TRIAL_STATES)[number];

export const DIRECTIONS = ['minimize', 'maximize'] as const;
export type Direction = (typeof DIRECTIONS)[number];

export const intermediateValueSchema = z.strictObject({
  step: z.number().int().nonnegative(),
  value: z.number(),
});
export type IntermediateValue = z.infer<typeof intermediateValueSchema>;

export const trialSchema = z
  .strictObject({
    number: z.number().int().nonnegative(),
    state: z.enum(TRIAL_STATES),
    params: z.record(z.string(), choiceValueSchema),
    /** Objective values of a complete trial, one per study direction. */
    values: z.array(z.number()).min(1).optional(),
    /** Reported while running, one per step, in any order. */
    intermediateValues: z.array(intermediateValueSchema).default([]),
    /** Bookkeeping a sampler asked to store with the trial (e.g. its CMA-ES generation). */
    samplerAttrs: z.record(z.string(), z.number()).default({}),
  })
  .superRefine((t, ctx) => {
    if (t.state === 'complete' && t.values === undefined) ctx.addIssue({ code: 'custom', path: ['values'], message: 'a complete trial needs its objective values' });
    const steps = new Set<number>();
    t.intermediateValues.forEach((iv, i) => {
      if (steps.has(iv.step)) ctx.addIssue({ code: 'custom', path: ['intermediateValues', i, 'step'], message: `step ${iv.step} is reported twice` });
      steps.add(iv.step);
    });
  });
export type Trial = z.infer<typeof trialSchema>;

/** The single objective value of a complete trial (throws with the trial number otherwise). */
export function objectiveValue(trial: Trial): number {
  const v = trial.values?.[0];
  if (v === undefined) throw new Error(`trial ${trial.number} (${trial.state}) has no objective value`);
  return v;
}

/** The trial's intermediate values up to and including `uptoStep`, sorted by step. */
export function intermediateCurve(trial: Trial, uptoStep = Infinity): IntermediateValue[] {
  return trial.intermediateValues.filter((iv) => iv.step <= uptoStep).sort((a, b) => a.step - b.step);
}

/** The highest step a trial reported, or undefined when it reported none. */
export function lastStep(trial: Trial): number | undefined {
  let last: number | undefined;
  for (const iv of trial.intermediateValues) if (last === undefined || iv.step > last) last = iv.step;
  return last;
}
