import type { Redis } from 'ioredis';
import { sweepEventSchema, sweepEventsChannel, sweepWakeChannel, sweepWakeMessageSchema, type SweepEvent } from '@medfusion/contracts';

/** Publishes sweep events (validated against their schema) for the gateway to relay, stamped with `publishedAt`. */
export class SweepEventPublisher {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async publish(event: SweepEvent): Promise<void> {
    const valid = sweepEventSchema.parse(event);
    await this.redis.publish(sweepEventsChannel(this.prefix), JSON.stringify({ ...valid, publishedAt: valid.publishedAt ?? Date.now() }));
  }

  /** Asks the sweep driver to look at a sweep now rather than at its next periodic pass. */
  async wake(sweepId: string): Promise<void> {
    await this.redis.publish(sweepWakeChannel(this.prefix), JSON.stringify(sweepWakeMessageSchema.parse({ sweepId })));
  }
}

/**
 * Subscribes a dedicated connection to sweep events and/or wake-ups; malformed messages go to
 * `onInvalid` (logged by the caller, never thrown into ioredis).
 */
export async function subscribeSweepChannels(
  subscriber: Redis,
  prefix: string,
  handlers: { onEvent?: (e: SweepEvent) => void; onWake?: (sweepId: string) => void; onInvalid: (error: Error, raw: string) => void },
): Promise<void> {
  const events = sweepEventsChannel(prefix);
  const wake = sweepWakeChannel(prefix);
  subscriber.on('message', (ch: string, raw: string) => {
    if (ch !== events && ch !== wake) return;
    let message: { event: SweepEvent } | { sweepId: string };
    try {
      const parsed: unknown = JSON.parse(raw);
      message = ch === events ? { event: sweepEventSchema.parse(parsed) } : sweepWakeMessageSchema.parse(parsed);
    } catch (err) {
      handlers.onInvalid(err as Error, raw);
      return;
    }
    if ('event' in message) handlers.onEvent?.(message.event);
    else handlers.onWake?.(message.sweepId);
  });
  const channels = [...(handlers.onEvent ? [events] : []), ...(handlers.onWake ? [wake] : [])];
  if (channels.length) await subscriber.subscribe(...channels);
}
