import { Controller, Get, HttpStatus, Inject, Res, type OnApplicationBootstrap } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { randomBytes } from 'node:crypto';
import type { Response } from 'express';
import type { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { prototypeIntegrityCheck, runReadinessChecks, type HealthReport, type ReadinessCheck } from '@medfusion/runtime';
import { ApiKeyService } from '../auth/api-key.service.js';
import { Public } from '../auth/auth.decorators.js';
import { REDIS } from '../infrastructure/infrastructure.module.js';
import { ShutdownState } from './shutdown-state.js';

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController implements OnApplicationBootstrap {
  private prototypes?: ReadinessCheck;

  constructor(
    private readonly ds: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly shutdown: ShutdownState,
    private readonly keys: ApiKeyService,
  ) {}

  /** The baseline of shared prototypes is taken once every module has finished starting. */
  onApplicationBootstrap(): void {
    this.prototypes = prototypeIntegrityCheck();
  }

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process answers.' })
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({
    summary:
      'Readiness: Postgres and Redis answer, an API-key lookup works end to end, no shared prototype changed since start, and the gateway is not shutting down (503 otherwise).',
  })
  async ready(@Res() res: Response): Promise<void> {
    const report: HealthReport = this.shutdown.stopping
      ? { status: 'error' as const, checks: { shutdown: { status: 'error' as const, error: 'shutting down' } } }
      : await runReadinessChecks({
          postgres: async () => void (await this.ds.query('SELECT 1')),
          redis: async () => void (await this.redis.ping()),
          // The path every authenticated request takes: a gateway that cannot look a key up
          // cannot serve anything but health checks, whatever Postgres says.
          auth: async () => {
            const principal = await this.keys.authenticate(`readiness-probe-${randomBytes(16).toString('hex')}`);
            if (principal !== null) throw new Error('a random key authenticated');
          },
          prototypes: async () => this.prototypes?.(),
        });
    // Sent directly: Nest would overwrite a status set on a passthrough response.
    res.status(report.status === 'ok' ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE).json(report);
  }
}
