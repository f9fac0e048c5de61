import { Inject, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { WebSocketGateway, WebSocketServer, type OnGatewayInit } from '@nestjs/websockets';
import type { Server, Socket } from 'socket.io';
import { jobRoom, SOCKET_EVENTS, socketSubscribeSchema, type TrainingEvent } from '@medfusion/contracts';
import { mayRead, type Principal } from '@medfusion/domain';
import { TrainingJobRepository } from '@medfusion/persistence';
import { createRedis, subscribeTrainingEvents, waitForRedis } from '@medfusion/queue';
import type { Logger } from '@medfusion/runtime';
import type { Redis } from 'ioredis';
import { ApiKeyService } from '../auth/api-key.service.js';
import { GatewayConfig } from '../infrastructure/gateway-config.js';
import { LOGGER } from '../infrastructure/infrastructure.module.js';
import { handleRoomSubscriptions, type SubscribeAck } from './room-subscriptions.js';

interface AuthedSocket extends Socket {
  data: { principal: Principal };
}

/**
 * Live progress over Socket.IO. A client connects with its API key (`auth: { token }` or an
 * Authorization header), then emits `subscribe` with `{ jobId }` and receives `training-event`
 * messages for that job, as long as its key may read the job. Events come from the workers over
 * Redis pub/sub.
 */
@WebSocketGateway({ cors: { origin: true } })
export class TrainingProgressGateway implements OnGatewayInit, OnModuleInit, OnApplicationShutdown {
  @WebSocketServer() server!: Server;
  private subscriber?: Redis;

  constructor(
    private readonly keys: ApiKeyService,
    private readonly jobs: TrainingJobRepository,
    private readonly config: GatewayConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  afterInit(server: Server): void {
    server.use((socket, next) => {
      const raw = (socket.handshake.auth as { token?: unknown })?.token ?? socket.handshake.headers.authorization?.replace(/^Bearer\s+/i, '');
      if (typeof raw !== 'string' || !raw) return next(new Error('unauthorized: pass the API key as auth.token'));
      this.keys.authenticate(raw).then(
        (principal) => {
          if (!principal) return next(new Error('unauthorized: unknown or revoked API key'));
          (socket as AuthedSocket).data.principal = principal;
          next();
        },
        (err: Error) => next(err),
      );
    });
    server.on('connection', (socket: AuthedSocket) =>
      handleRoomSubscriptions(
        socket,
        {
          subscribe: SOCKET_EVENTS.subscribe,
          unsubscribe: SOCKET_EVENTS.unsubscribe,
          schema: socketSubscribeSchema,
          invalid: 'jobId: must be a UUID',
          join: (s, { jobId }) => this.subscribe(s as AuthedSocket, jobId),
          room: ({ jobId }) => jobRoom(jobId),
        },
        this.logger,
      ),
    );
  }

  async onModuleInit(): Promise<void> {
    const env = this.config.env;
    this.subscriber = createRedis(env.REDIS_URL, 'subscriber');
    await waitForRedis(this.subscriber, env.REDIS_URL);
    await subscribeTrainingEvents(
      this.subscriber,
      env.REDIS_PREFIX,
      (event) => this.relay(event),
      (err, raw) => this.logger.warn({ err, raw: raw.slice(0, 200) }, 'dropped a malformed training event'),
    );
  }

  onApplicationShutdown(): void {
    this.subscriber?.disconnect();
  }

  private relay(event: TrainingEvent): void {
    this.server?.to(jobRoom(event.jobId)).emit(SOCKET_EVENTS.training, event);
  }

  private async subscribe(socket: AuthedSocket, jobId: string): Promise<SubscribeAck> {
    const job = await this.jobs.findById(jobId);
    if (!job) return { ok: false, error: `training job ${jobId} not found` };
    if (!mayRead(socket.data.principal, 'owned', job.owner)) return { ok: false, error: `forbidden: training job ${jobId} belongs to another owner` };
    const room = jobRoom(jobId);
    await socket.join(room);
    return { ok: true, room };
  }
}
