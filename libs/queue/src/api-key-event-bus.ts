import type { Redis } from 'ioredis';
import { apiKeyChangedChannel, apiKeyChangedMessageSchema, type ApiKeyChangedMessage } from '@medfusion/contracts';
import { subscribeValidated } from './training-event-bus.js';

/** Tells every gateway replica that a key was revoked or changed (see apiKeyChangedChannel). */
export async function publishApiKeyChanged(redis: Redis, prefix: string, message: ApiKeyChangedMessage): Promise<void> {
  await redis.publish(apiKeyChangedChannel(prefix), JSON.stringify(apiKeyChangedMessageSchema.parse(message)));
}

export function subscribeApiKeyChanges(
  subscriber: Redis,
  prefix: string,
  onChange: (m: ApiKeyChangedMessage) => void,
  onInvalid: (error: Error, raw: string) => void,
): Promise<void> {
  return subscribeValidated(subscriber, apiKeyChangedChannel(prefix), (raw) => apiKeyChangedMessageSchema.parse(raw), onChange, onInvalid);
}
