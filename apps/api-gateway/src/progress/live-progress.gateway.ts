import { Inject, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { WebSocketGateway, WebSocketServer, type OnGatewayInit } from '@nestjs/websockets';
import type { Server, Socket } from 'socket.io';
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { DataSource } from 'typeorm';
import {
  jobRoom,
  SOCKET_EVENTS,
  socketSubscribeSchema,
  SWEEP_SOCKET_EVENTS,
  sweepRoom,
  sweepSocketSubscribeSchema,
  type SweepEvent,
  type TrainingEvent,
} from '@medfusion/contracts';
import { mayRead, type Principal } from '@medfusion/domain';
import { SweepRepository, TrainingJobRepository } from '@medfusion/persistence';
import { createRedis, subscribeApiKeyChanges, subscribeSweepChannels, subscribeTrainingEvents, waitForRedis } from '@medfusion/queue';
import type { Logger } from '@medfusion/runtime';
import { GatewayConfig } from '../infrastructure/gateway-config.js';
import { LOGGER } from '../infrastructure/infrastructure.module.js';
import { LiveConnections, type LiveSocket } from './live-connections.js';
import { handleRoomSubscriptions, type SubscribeAck } from './room-subscriptions.js';

/** One kind of live room and whose it is. */
interface TopicRooms {
  name: 'training' | 'sweep';
  /** What the client-visible messages call it ("training job <id> not found"). */
  label: string;
  room(id: string): string;
  roomPrefix: string;
  /** The owner of the resource, or undefined when there is none with this id. */
  owner(id: string): Promise<string | null | undefined>;
}

/** A topic as the client asks for it: event names and the payload's schema. */
interface Topic<R> extends TopicRooms {
  subscribe: string;
  unsubscribe: string;
  schema: z.ZodType<R>;
  invalid: string;
  id(request: R): string;
}

/**
 * Live progress over Socket.IO, one gateway for every topic: `training` (emit `subscribe` with
 * `{ jobId }`, receive `training-event` in room `job:<id>`) and `sweep` (emit `subscribe-sweep` with
 * `{ sweepId }`, receive `sweep-event` in room `sweep:<id>`). The connection is authenticated by its
 * API key at the handshake (LiveConnections), every subscribe re-checks the key, and a revoked key's
 * connections are ended on every replica as soon as the revocation is signalled over Redis. Events
 * come from the workers and the scheduler over Redis pub/sub.
 */
@WebSocketGateway({ cors: { origin: true } })
export class LiveProgressGateway implements OnGatewayInit, OnModuleInit, OnApplicationShutdown {
  @WebSocketServer() server!: Server;
  private subscriber?: Redis;
  private recheckTimer?: NodeJS.Timeout;
  private readonly training: Topic<{ jobId: string }>;
  private readonly sweep: Topic<{ sweepId: string }>;
  private readonly topics: readonly TopicRooms[];

  constructor(
    private readonly connections: LiveConnections,
    jobs: TrainingJobRepository,
    ds: DataSource,
    private readonly config: GatewayConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    const sweeps = new SweepRepository(ds);
    this.training = {
      name: 'training',
      label: 'training job',
      subscribe: SOCKET_EVENTS.subscribe,
      unsubscribe: SOCKET_EVENTS.unsubscribe,
      schema: socketSubscribeSchema,
      invalid: 'jobId: must be a UUID',
      id: (r) => r.jobId,
      room: jobRoom,
      roomPrefix: jobRoom(''),
      owner: async (id) => (await jobs.findById(id))?.owner,
    };
    this.sweep = {
      name: 'sweep',
      label: 'sweep',
      subscribe: SWEEP_SOCKET_EVENTS.subscribe,
      unsubscribe: SWEEP_SOCKET_EVENTS.unsubscribe,
      schema: sweepSocketSubscribeSchema,
      invalid: 'sweepId: must be a UUID',
      id: (r) => r.sweepId,
      room: sweepRoom,
      roomPrefix: sweepRoom(''),
      owner: async (id) => (await sweeps.findById(id))?.owner,
    };
    this.topics = [this.training, this.sweep];
  }

  afterInit(server: Server): void {
    server.use(this.connections.authenticate);
    this.connections.onChange((socket) => this.leaveUnreadableRooms(socket));
    server.on('connection', (socket: Socket) => {
      const live = socket as LiveSocket;
      this.connections.track(live);
      this.wire(live, this.training);
      this.wire(live, this.sweep);
    });
  }

  async onModuleInit(): Promise<void> {
    const env = this.config.env;
    this.subscriber = createRedis(env.REDIS_URL, 'subscriber');
    await waitForRedis(this.subscriber, env.REDIS_URL);
    await subscribeTrainingEvents(
      this.subscriber,
      env.REDIS_PREFIX,
      (event) => this.relayTraining(event),
      (err, raw) => this.logger.warn({ err, raw: raw.slice(0, 200) }, 'dropped a malformed training event'),
    );
    await subscribeSweepChannels(this.subscriber, env.REDIS_PREFIX, {
      onEvent: (event) => this.relaySweep(event),
      onInvalid: (err, raw) => this.logger.warn({ err, raw: raw.slice(0, 200) }, 'dropped a malformed sweep event'),
    });
    await subscribeApiKeyChanges(
      this.subscriber,
      env.REDIS_PREFIX,
      ({ keyId, change }) =>
        this.connections.recheck([keyId]).catch((err: Error) => this.logger.error({ err, keyId, change }, 'could not apply an API key change to live connections')),
      (err, raw) => this.logger.warn({ err, raw: raw.slice(0, 200) }, 'dropped a malformed api-key-changed message'),
    );
    let rechecking = false;
    this.recheckTimer = setInterval(() => {
      // A slow database must not pile passes onto it: skip a beat while the last one runs.
      if (rechecking) return;
      rechecking = true;
      this.connections
        .recheckAll()
        .catch((err: Error) => this.logger.error({ err, ...this.connections.size() }, 'periodic re-check of live connections failed'))
        .finally(() => (rechecking = false));
    }, env.SOCKET_AUTH_RECHECK_MS);
    this.recheckTimer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.recheckTimer);
    this.subscriber?.disconnect();
  }

  private relayTraining(event: TrainingEvent): void {
    this.server?.to(jobRoom(event.jobId)).emit(SOCKET_EVENTS.training, event);
  }

  private relaySweep(event: SweepEvent): void {
    this.server?.to(sweepRoom(event.sweepId)).emit(SWEEP_SOCKET_EVENTS.sweep, event);
  }

  private wire<R>(socket: LiveSocket, topic: Topic<R>): void {
    handleRoomSubscriptions(
      socket,
      {
        subscribe: topic.subscribe,
        unsubscribe: topic.unsubscribe,
        schema: topic.schema,
        invalid: topic.invalid,
        join: (_s, request) => this.subscribe(socket, topic, topic.id(request)),
        room: (request) => topic.room(topic.id(request)),
      },
      this.logger,
    );
  }

  /**
   * Joins the room if the key, as it is now, may read the resource. A resource the key may not read
   * is answered like a missing one, as REST does, so that a socket cannot probe which ids exist.
   */
  private async subscribe(socket: LiveSocket, topic: TopicRooms, id: string): Promise<SubscribeAck> {
    const principal = await this.connections.current(socket);
    if (!principal) return { ok: false, error: 'unauthorized: unknown or revoked API key' };
    if (!(await this.mayRead(principal, topic, id))) return { ok: false, error: `${topic.label} ${id} not found` };
    // The key may have been revoked while the lookups ran; a closed socket must not join anything.
    if (!socket.connected) return { ok: false, error: 'unauthorized: unknown or revoked API key' };
    const room = topic.room(id);
    await socket.join(room);
    return { ok: true, room };
  }

  private async mayRead(principal: Principal, topic: TopicRooms, id: string): Promise<boolean> {
    const owner = await topic.owner(id);
    return owner !== undefined && mayRead(principal, 'owned', owner);
  }

  /** After a role or owner change: leaves every room the key may no longer read. */
  private async leaveUnreadableRooms(socket: LiveSocket): Promise<void> {
    for (const room of [...socket.rooms]) {
      const topic = this.topics.find((t) => room.startsWith(t.roomPrefix));
      if (!topic) continue; // the socket's own room
      const id = room.slice(topic.roomPrefix.length);
      if (!(await this.mayRead(socket.data.principal, topic, id))) {
        await socket.leave(room);
        this.logger.info({ keyId: socket.data.principal.keyId, socketId: socket.id, room }, 'left a room the changed key may no longer read');
      }
    }
  }
}
