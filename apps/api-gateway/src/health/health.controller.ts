import { Controller, Get, HttpStatus, Inject, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { runReadinessChecks, type HealthReport } from '@medfusion/runtime';
import { Public } from '../auth/auth.decorators.js';
import { REDIS } from '../infrastructure/infrastructure.module.js';
import { ShutdownState } from './shutdown-state.js';

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly ds: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly shutdown: ShutdownState,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process answers.' })
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Readiness: Postgres and Redis answer and the gateway is not shutting down (503 otherwise).' })
  async ready(@Res() res: Response): Promise<void> {
    const report: HealthReport = this.shutdown.stopping
      ? { status: 'error' as const, checks: { shutdown: { status: 'error' as const, error: 'shutting down' } } }
      : await runReadinessChecks({
          postgres: async () => void (await this.ds.query('SELECT 1')),
          redis: async () => void (await this.redis.ping()),
        });
    // Sent directly: Nest would overwrite a status set on a passthrough response.
    res.status(report.status === 'ok' ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE).json(report);
  }
}
