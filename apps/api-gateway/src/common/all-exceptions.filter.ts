import { ArgumentsHost, Catch, HttpException, HttpStatus, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { InvalidTransitionError } from '@medfusion/domain';
import { StatusChangedError, TrainingJobNotFoundError } from '@medfusion/persistence';
import type { Logger } from '@medfusion/runtime';
import type { ApiErrorBody } from './api-error.js';

/**
 * Every error leaves the API as the same JSON shape. Known domain errors get their status here, in
 * one place; anything unexpected is logged with its stack and answered 500 without internals.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const body = this.toBody(exception);
    if (body.statusCode >= 500) {
      const req = host.switchToHttp().getRequest<{ method?: string; url?: string }>();
      this.logger.error({ err: exception, method: req.method, url: req.url }, 'unhandled error');
    }
    if (res.headersSent) return;
    res.status(body.statusCode).json(body);
  }

  private toBody(exception: unknown): ApiErrorBody {
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      if (typeof response === 'object' && response !== null && 'details' in response) return response as ApiErrorBody;
      const message =
        typeof response === 'string' ? response : String((response as { message?: unknown }).message ?? exception.message);
      return { statusCode: status, error: HttpStatus[status] ?? 'Error', message, details: [] };
    }
    if (exception instanceof InvalidTransitionError || exception instanceof StatusChangedError) return conflict(exception.message, 'status');
    if (exception instanceof TrainingJobNotFoundError) {
      return { statusCode: 404, error: 'NOT_FOUND', message: exception.message, details: [{ field: 'id', message: exception.message }] };
    }
    const pgCode = (exception as { code?: unknown; driverError?: { code?: string } })?.driverError?.code;
    if (pgCode === '23503') return conflict('the resource is still referenced by another resource', 'id');
    if (pgCode === '23505') return conflict('a resource with these values already exists', 'body');
    return { statusCode: 500, error: 'INTERNAL_SERVER_ERROR', message: 'internal error; see the gateway log', details: [] };
  }
}

function conflict(message: string, field: string): ApiErrorBody {
  return { statusCode: 409, error: 'CONFLICT', message, details: [{ field, message }] };
}
