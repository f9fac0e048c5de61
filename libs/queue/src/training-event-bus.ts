import type { Redis } from 'ioredis';
import { trainingEventSchema, trainingEventsChannel, trainingControlChannel, trainingControlMessageSchema, type TrainingControlMessage, type TrainingEvent } from '@medfusion/contracts';

/**
 * Publishes training events (validated against their schema) for the gateway to relay, stamped with
 * `publishedAt` (now, unless the caller set it) so that consumers can tell how late they are.
 */
export class TrainingEventPublisher {
  private readonly channel: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.channel = trainingEventsChannel(prefix);
  }

  async publish(event: TrainingEvent): Promise<void> {
    const valid = trainingEventSchema.parse(event);
    await this.redis.publish(this.channel, JSON.stringify({ ...valid, publishedAt: valid.publishedAt ?? Date.now() }));
  }
}

/**
 * Subscribes a dedicated connection to a channel and hands each message that matches its schema to
 * `onMessage`; malformed messages go to `onInvalid` (they are logged, never thrown into ioredis).
 */
export async function subscribeValidated<T>(
  subscriber: Redis,
  channel: string,
  parse: (raw: unknown) => T,
  onMessage: (msg: T) => void,
  onInvalid: (error: Error, raw: string) => void,
): Promise<void> {
  subscriber.on('message', (ch: string, raw: string) => {
    if (ch !== channel) return;
    let msg: T;
    try {
      msg = parse(JSON.parse(raw));
    } catch (err) {
      onInvalid(err as Error, raw);
      return;
    }
    onMessage(msg);
  });
  await subscriber.subscribe(channel);
}

export function subscribeTrainingEvents(
  subscriber: Redis,
  prefix: string,
  onEvent: (e: TrainingEvent) => void,
  onInvalid: (error: Error, raw: string) => void,
): Promise<void> {
  return subscribeValidated(subscriber, trainingEventsChannel(prefix), (raw) => trainingEventSchema.parse(raw), onEvent, onInvalid);
}

export function subscribeTrainingControl(
  subscriber: Redis,
  prefix: string,
  onControl: (m: TrainingControlMessage) => void,
  onInvalid: (error: Error, raw: string) => void,
): Promise<void> {
  return subscribeValidated(subscriber, trainingControlChannel(prefix), (raw) => trainingControlMessageSchema.parse(raw), onControl, onInvalid);
}
