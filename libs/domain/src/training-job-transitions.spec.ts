import { TRAINING_JOB_STATUSES, type TrainingJobStatus } from '@medfusion/contracts';
import { assertTransition, canTransition, InvalidTransitionError, statusesAllowingTransitionTo, TERMINAL_STATUSES } from './training-job-transitions.js';

const LEGAL: Array<[TrainingJobStatus, TrainingJobStatus]> = [
  ['queued', 'running'],
  ['queued', 'paused'],
  ['queued', 'stopped'],
  ['queued', 'failed'],
  ['running', 'completed'],
  ['running', 'failed'],
  ['running', 'paused'],
  ['running', 'stopped'],
  ['running', 'queued'],
  ['paused', 'queued'],
  ['paused', 'stopped'],
];

describe('training job transitions', () => {
  const all = TRAINING_JOB_STATUSES.flatMap((from) => TRAINING_JOB_STATUSES.map((to) => [from, to] as [TrainingJobStatus, TrainingJobStatus]));

  it.each(all)('%s -> %s follows the lifecycle table', (from, to) => {
    const legal = LEGAL.some(([f, t]) => f === from && t === to);
    expect(canTransition(from, to)).toBe(legal);
  });

  it.each(TERMINAL_STATUSES)('%s is final', (status) => {
    for (const to of TRAINING_JOB_STATUSES) expect(canTransition(status, to)).toBe(false);
  });

  it('explains a refused change, naming the job and the allowed targets', () => {
    expect(() => assertTransition('j1', 'completed', 'running')).toThrow(new InvalidTransitionError('j1', 'completed', 'running'));
    expect(() => assertTransition('j1', 'completed', 'running')).toThrow(/j1 is completed and cannot become running \(completed is final\)/);
    expect(() => assertTransition('j2', 'paused', 'completed')).toThrow(/may become: queued, stopped/);
  });

  it('lists the statuses a conditional UPDATE may start from', () => {
    expect(statusesAllowingTransitionTo('running').sort()).toEqual(['queued']);
    expect(statusesAllowingTransitionTo('stopped').sort()).toEqual(['paused', 'queued', 'running']);
  });
});
