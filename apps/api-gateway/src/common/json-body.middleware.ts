import { HttpStatus } from '@nestjs/common';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { ApiError } from './api-error.js';

/**
 * JSON bodies only, up to `limitBytes`. Parser failures become API errors naming `body`, instead of
 * express's HTML error pages.
 */
export function jsonBodyMiddleware(limitBytes: number): RequestHandler {
  const parse = express.json({ limit: limitBytes, strict: true });
  return (req: Request, res: Response, next: NextFunction) => {
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (hasBody && !req.is('application/json')) {
      return next(
        new ApiError(HttpStatus.UNSUPPORTED_MEDIA_TYPE, `body: content type must be application/json, got ${req.headers['content-type'] ?? 'none'}`, [
          { field: 'body', message: 'content type must be application/json' },
        ]),
      );
    }
    parse(req, res, (err?: unknown) => {
      if (!err) return next();
      const e = err as { type?: string; message?: string };
      if (e.type === 'entity.too.large') {
        return next(
          new ApiError(HttpStatus.PAYLOAD_TOO_LARGE, `body: larger than the limit of ${limitBytes} bytes`, [
            { field: 'body', message: `larger than ${limitBytes} bytes` },
          ]),
        );
      }
      if (e.type === 'entity.parse.failed') {
        return next(new ApiError(HttpStatus.BAD_REQUEST, `body: malformed JSON (${e.message})`, [{ field: 'body', message: 'malformed JSON' }]));
      }
      next(new ApiError(HttpStatus.BAD_REQUEST, `body: ${e.message ?? 'unreadable'}`, [{ field: 'body', message: e.message ?? 'unreadable' }]));
    });
  };
}
