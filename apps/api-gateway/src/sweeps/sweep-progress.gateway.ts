import { Inject, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { WebSocketGateway, WebSocketServer, type OnGatewayInit } from '@nestjs/websockets';
import type { Server, Socket } from 'socket.io';
import type { Redis } from 'ioredis';
import { SWEEP_SOCKET_EVENTS, sweepRoom, sweepSocketSubscribeSchema, type SweepEvent } from '@medfusion/contracts';
import { mayRead, type Principal } from '@medfusion/domain';
import { SweepRepository } from '@medfusion/persistence';
import { createRedis, subscribeSweepChannels, waitForRedis } from '@medfusion/queue';
import type { Logger } from '@medfusion/runtime';
import { DataSource } from 'typeorm';
import { GatewayConfig } from '../infrastructure/gateway-config.js';
import { LOGGER } from '../infrastructure/infrastructure.module.js';
import { handleRoomSubscriptions, type SubscribeAck } from '../progress/room-subscriptions.js';

interface AuthedSocket extends Socket {
  data: { principal?: Principal };
}

/**
 * Live sweep progress over Socket.IO, on the same server as training progress: the training gateway's
 * middleware authenticates the connection; a client emits `subscribe-sweep` with `{ sweepId }`
 * and receives `sweep-event` messages (trial started, reported, pruned, finished; sweep status)
 * while its key may read the sweep.
 */
@WebSocketGateway({ cors: { origin: true } })
export class SweepProgressGateway implements OnGatewayInit, OnModuleInit, OnApplicationShutdown {
  @WebSocketServer() server!: Server;
  private subscriber?: Redis;
  private readonly sweeps: SweepRepository;

  constructor(
    ds: DataSource,
    private readonly config: GatewayConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.sweeps = new SweepRepository(ds);
  }

  afterInit(server: Server): void {
    server.on('connection', (socket: AuthedSocket) =>
      handleRoomSubscriptions(
        socket,
        {
          subscribe: SWEEP_SOCKET_EVENTS.subscribe,
          unsubscribe: SWEEP_SOCKET_EVENTS.unsubscribe,
          schema: sweepSocketSubscribeSchema,
          invalid: 'sweepId: must be a UUID',
          join: (s, { sweepId }) => this.subscribe(s as AuthedSocket, sweepId),
          room: ({ sweepId }) => sweepRoom(sweepId),
        },
        this.logger,
      ),
    );
  }

  async onModuleInit(): Promise<void> {
    const env = this.config.env;
    this.subscriber = createRedis(env.REDIS_URL, 'subscriber');
    await waitForRedis(this.subscriber, env.REDIS_URL);
    await subscribeSweepChannels(this.subscriber, env.REDIS_PREFIX, {
      onEvent: (event) => this.relay(event),
      onInvalid: (err, raw) => this.logger.warn({ err, raw: raw.slice(0, 200) }, 'dropped a malformed sweep event'),
    });
  }

  onApplicationShutdown(): void {
    this.subscriber?.disconnect();
  }

  private relay(event: SweepEvent): void {
    this.server?.to(sweepRoom(event.sweepId)).emit(SWEEP_SOCKET_EVENTS.sweep, event);
  }

  private async subscribe(socket: AuthedSocket, sweepId: string): Promise<SubscribeAck> {
    const principal = socket.data.principal;
    if (!principal) return { ok: false, error: 'unauthorized: pass the API key as auth.token' };
    const sweep = await this.sweeps.findById(sweepId);
    if (!sweep) return { ok: false, error: `sweep ${sweepId} not found` };
    if (!mayRead(principal, 'owned', sweep.owner)) return { ok: false, error: `forbidden: sweep ${sweepId} belongs to another owner` };
    const room = sweepRoom(sweepId);
    await socket.join(room);
    return { ok: true, room };
  }
}
