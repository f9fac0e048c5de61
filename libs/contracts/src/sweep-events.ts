import { z } from 'zod';
import { choiceValueSchema } from '@medfusion/tuning';
import { sweepStatusSchema, sweepTrialStateSchema } from './sweep.schema.js';
import { publishedAtSchema } from './training-events.js';

const trialRef = {
  sweepId: z.uuid(),
  trialId: z.uuid(),
  number: z.int().min(0),
  /** When the producer published the event (epoch ms, set by SweepEventPublisher). */
  publishedAt: publishedAtSchema,
};

/**
 * Progress of a sweep, published by the scheduler's sweep driver on Redis and relayed by the gateway
 * to the Socket.IO room `sweep:<id>`. One schema per event; `type` tells them apart.
 */
export const sweepTrialStartedEventSchema = z.strictObject({
  type: z.literal('trial-started'),
  ...trialRef,
  params: z.record(z.string(), choiceValueSchema),
  trainingJobId: z.uuid(),
});

/** The objective's value at one epoch (the pruner's step). */
export const sweepTrialReportedEventSchema = z.strictObject({
  type: z.literal('trial-reported'),
  ...trialRef,
  step: z.int().min(0),
  value: z.number(),
});

export const sweepTrialPrunedEventSchema = z.strictObject({
  type: z.literal('trial-pruned'),
  ...trialRef,
  step: z.int().min(0),
  value: z.number(),
});

/** A trial ended: complete (with its values), failed (with the job's error) or stopped. */
export const sweepTrialFinishedEventSchema = z.strictObject({
  type: z.literal('trial-finished'),
  ...trialRef,
  state: sweepTrialStateSchema,
  values: z.array(z.number()).optional(),
  error: z.string().optional(),
});

export const sweepStatusEventSchema = z.strictObject({
  type: z.literal('sweep-status'),
  sweepId: z.uuid(),
  status: sweepStatusSchema,
  trialCounts: z.record(z.string(), z.int().min(0)),
  bestTrialId: z.uuid().nullable(),
  error: z.string().optional(),
  publishedAt: publishedAtSchema,
});

export const sweepEventSchema = z.discriminatedUnion('type', [
  sweepTrialStartedEventSchema,
  sweepTrialReportedEventSchema,
  sweepTrialPrunedEventSchema,
  sweepTrialFinishedEventSchema,
  sweepStatusEventSchema,
]);
export type SweepEvent = z.infer<typeof sweepEventSchema>;

/** Redis pub/sub channel of sweep events (all sweeps; the gateway fans out to rooms). */
export function sweepEventsChannel(redisPrefix: string): string {
  return `${redisPrefix}:events:sweep`;
}

/**
 * Redis pub/sub channel on which the gateway asks the sweep driver to look at a sweep now (it was
 * created, stopped, or got an enqueued trial). The driver's periodic pass finds the change anyway,
 * so a lost message only costs latency.
 */
export function sweepWakeChannel(redisPrefix: string): string {
  return `${redisPrefix}:sweep-wake`;
}

export const sweepWakeMessageSchema = z.strictObject({ sweepId: z.uuid() });
export type SweepWakeMessage = z.infer<typeof sweepWakeMessageSchema>;

/** Socket.IO room of one sweep. */
export function sweepRoom(sweepId: string): string {
  return `sweep:${sweepId}`;
}

/** Socket.IO event names of sweeps (separate from the training-job ones so both handlers can coexist). */
export const SWEEP_SOCKET_EVENTS = {
  subscribe: 'subscribe-sweep',
  unsubscribe: 'unsubscribe-sweep',
  sweep: 'sweep-event',
} as const;

export const sweepSocketSubscribeSchema = z.strictObject({ sweepId: z.uuid() });
