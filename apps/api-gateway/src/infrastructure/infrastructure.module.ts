import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import type { Env } from '@medfusion/config';
import { TrainingJobRepository } from '@medfusion/persistence';
import { createRedis, TrainingQueue } from '@medfusion/queue';
import type { Logger } from '@medfusion/runtime';
import { GatewayConfig } from './gateway-config.js';

export const REDIS = Symbol('REDIS');
export const LOGGER = Symbol('LOGGER');

/**
 * The gateway's outside dependencies, created once and closed on shutdown. The DataSource is
 * initialised (and migrated) by the app factory before Nest starts, so a bad DATABASE_URL fails at
 * boot with a clear message.
 */
@Global()
@Module({})
export class InfrastructureModule implements OnApplicationShutdown {
  constructor(
    private readonly ds: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly queue: TrainingQueue,
  ) {}

  static forRoot(env: Env, ds: DataSource, logger: Logger): DynamicModule {
    return {
      module: InfrastructureModule,
      providers: [
        { provide: GatewayConfig, useValue: new GatewayConfig(env) },
        { provide: DataSource, useValue: ds },
        { provide: LOGGER, useValue: logger },
        { provide: REDIS, useFactory: () => createRedis(env.REDIS_URL, 'producer') },
        { provide: TrainingQueue, useFactory: (redis: Redis) => new TrainingQueue(redis, env.REDIS_PREFIX), inject: [REDIS] },
        { provide: TrainingJobRepository, useFactory: (d: DataSource) => new TrainingJobRepository(d), inject: [DataSource] },
      ],
      exports: [GatewayConfig, DataSource, LOGGER, REDIS, TrainingQueue, TrainingJobRepository],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.queue.close();
    this.redis.disconnect();
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}

