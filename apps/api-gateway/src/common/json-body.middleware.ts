import { HttpStatus } from '@nestjs/common';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { ApiError, type FieldIssue } from './api-error.js';

/**
 * JSON bodies only, up to `limitBytes`. Parser failures become API errors naming `body`, instead of
 * express's HTML error pages. The `multipartPaths` routes take multipart/form-data instead, which
 * their own interceptor streams (uploads), so it is left unread here.
 */
export function jsonBodyMiddleware(limitBytes: number, multipartPaths: readonly string[] = []): RequestHandler {
  const parse = express.json({ limit: limitBytes, strict: true });
  return (req: Request, res: Response, next: NextFunction) => {
    if (multipartPaths.includes(req.path) && req.is('multipart/form-data')) return next();
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (hasBody && !req.is('application/json')) {
      return next(
        new ApiError(HttpStatus.UNSUPPORTED_MEDIA_TYPE, `body: content type must be application/json, got ${req.headers['content-type'] ?? 'none'}`, [
          { field: 'body', message: 'content type must be application/json' },
        ]),
      );
    }
    parse(req, res, (err?: unknown) => {
      if (!err) {
        const issue = unstorableJson(req.body);
        return next(issue ? ApiError.fields(HttpStatus.BAD_REQUEST, [issue]) : undefined);
      }
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

/** Deeper bodies are refused: storing them (TypeORM, JSON.stringify) recurses once per level. */
export const MAX_JSON_DEPTH = 64;

// NUL cannot be stored in Postgres text or jsonb, and jsonb refuses unpaired surrogates.
const UNSTORABLE_CHARS = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Valid JSON that the database cannot store (NUL characters, unpaired surrogates), that is nested
 * too deeply, or that has a `__proto__` field: an issue naming one such field, so the client gets a
 * 400 instead of a 500 (or a poisoned process) later on.
 * Iterative, so a deeply nested body cannot overflow the stack here.
 */
export function unstorableJson(body: unknown): FieldIssue | null {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value: body, path: 'body', depth: 0 }];
  while (stack.length) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === 'string') {
      if (UNSTORABLE_CHARS.test(value)) return { field: path, message: 'must not contain NUL characters or unpaired UTF-16 surrogates' };
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= MAX_JSON_DEPTH) return { field: path, message: `nested more than ${MAX_JSON_DEPTH} levels deep` };
    for (const [k, v] of Object.entries(value)) {
      if (UNSTORABLE_CHARS.test(k)) return { field: path, message: 'has a field name with NUL characters or unpaired UTF-16 surrogates' };
      // JSON.parse keeps "__proto__" as an own field, but any later copy by assignment (a merge, a
      // path writer) turns it into a prototype change: no MedFusion payload has such a field.
      if (k === '__proto__') return { field: `${path}.__proto__`, message: 'is not an allowed field name (it would change an object prototype)' };
      stack.push({ value: v, path: `${path}.${k}`, depth: depth + 1 });
    }
  }
  return null;
}
