import type { Socket } from 'socket.io';
import type { z } from 'zod';
import type { Logger } from '@medfusion/runtime';

export type SubscribeAck = { ok: true; room: string } | { ok: false; error: string };

export interface RoomSubscriptions<T> {
  /** Client event names, e.g. `subscribe` / `unsubscribe`. */
  subscribe: string;
  unsubscribe: string;
  /** The payload's schema, and what a malformed payload is told. */
  schema: z.ZodType<T>;
  invalid: string;
  /** Joins the room after checking the caller may read it; the ack says which room or why not. */
  join(socket: Socket, request: T): Promise<SubscribeAck>;
  room(request: T): string;
}

/**
 * Wires one kind of room (a training job's, a sweep's) on a connected socket: `subscribe` answers
 * through the client's acknowledgement callback, `unsubscribe` leaves the room. An unexpected
 * failure is logged and acknowledged as an internal error, never thrown into Socket.IO.
 */
export function handleRoomSubscriptions<T>(socket: Socket, rooms: RoomSubscriptions<T>, logger: Logger): void {
  socket.on(rooms.subscribe, (payload: unknown, ack?: (r: SubscribeAck) => void) => {
    const parsed = rooms.schema.safeParse(payload);
    if (!parsed.success) return ack?.({ ok: false, error: rooms.invalid });
    rooms.join(socket, parsed.data).then(
      (r) => ack?.(r),
      (err: Error) => {
        logger.error({ err, event: rooms.subscribe }, 'socket subscribe failed');
        ack?.({ ok: false, error: 'internal error' });
      },
    );
  });
  socket.on(rooms.unsubscribe, (payload: unknown) => {
    const parsed = rooms.schema.safeParse(payload);
    if (parsed.success) void socket.leave(rooms.room(parsed.data));
  });
}
