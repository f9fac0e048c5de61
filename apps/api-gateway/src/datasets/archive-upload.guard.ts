import { HttpStatus, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request, Response } from 'express';
import multer from 'multer';
import { mkdir, rm } from 'node:fs/promises';
import { LocalArtifactStore } from '@medfusion/artifacts';
import type { Logger } from '@medfusion/runtime';
import { ApiError } from '../common/api-error.js';
import { GatewayConfig } from '../infrastructure/gateway-config.js';
import { LOGGER } from '../infrastructure/infrastructure.module.js';
import { HashingDiskStorage, type StoredUpload } from './hashing-disk-storage.js';

/** The multipart part that holds the archive. */
export const ARCHIVE_FIELD = 'file';
/** Where uploads are streamed before they are unpacked (inside the artifact store, so on the same disk). */
export const UPLOADS_KEY = 'datasets/.uploads';
/** Room for the text fields (at most 20 x 100 kB) and multipart framing beside the archive. */
const MULTIPART_MARGIN_BYTES = 4 * 1024 * 1024;

/** The request after the guard: the text fields, plus the stored archive's size and digest under `file`. */
export type UploadRequest = Request & { file: Express.Multer.File & StoredUpload };

/**
 * Receives a multipart dataset upload: streams the `file` part to a temporary file (never into
 * memory) under DATASET_UPLOAD_LIMIT_BYTES, fills `req.body` with the text fields and the archive's
 * `{ size, sha256 }`, and removes the temporary file when the response is done, whatever happened.
 *
 * A guard rather than an interceptor on purpose: guards run after the global API-key guard (only
 * callers allowed on the route write to disk) but before the global idempotency interceptor, which
 * then sees the archive's digest in the body, so an Idempotency-Key reused with another archive is
 * a mismatch (422), not a replay.
 */
@Injectable()
export class ArchiveUploadGuard implements CanActivate {
  private readonly uploadsDir: string;
  private readonly limit: number;

  constructor(
    config: GatewayConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.uploadsDir = new LocalArtifactStore(config.env.ARTIFACTS_DIR).locate(UPLOADS_KEY);
    this.limit = config.env.DATASET_UPLOAD_LIMIT_BYTES;
  }

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<Request>();
    const res = ctx.switchToHttp().getResponse<Response>();
    if (!req.is('multipart/form-data')) {
      throw new ApiError(HttpStatus.UNSUPPORTED_MEDIA_TYPE, `body: content type must be multipart/form-data, got ${req.headers['content-type'] ?? 'none'}`, [
        { field: 'body', message: 'content type must be multipart/form-data with the archive in the "file" part' },
      ]);
    }
    // A declared length far past the limit is refused before a byte is written; multer still
    // enforces the exact limit on the file itself.
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.limit + MULTIPART_MARGIN_BYTES) throw this.tooLarge();

    await this.receive(req, res);
    const file = req.file as (Express.Multer.File & StoredUpload) | undefined;
    if (!file) {
      throw new ApiError(HttpStatus.BAD_REQUEST, `${ARCHIVE_FIELD}: required (a .zip, .tar.gz/.tgz or .tar archive)`, [{ field: ARCHIVE_FIELD, message: 'required' }]);
    }
    res.on('close', () => this.discard(file.path));
    req.body = { ...(req.body as Record<string, unknown>), [ARCHIVE_FIELD]: { size: file.size, sha256: file.sha256 } };
    return true;
  }

  private async receive(req: Request, res: Response): Promise<void> {
    await mkdir(this.uploadsDir, { recursive: true });
    const upload = multer({
      storage: new HashingDiskStorage(this.uploadsDir),
      // Text fields are small; bounding them keeps a form full of huge fields from filling memory.
      limits: { fileSize: this.limit, files: 1, fields: 20, fieldSize: 100_000, parts: 21 },
    }).single(ARCHIVE_FIELD);
    await new Promise<void>((resolve, reject) => upload(req, res, (err: unknown) => (err ? reject(this.toApiError(err)) : resolve())));
  }

  private toApiError(err: unknown): ApiError {
    if (err instanceof multer.MulterError) {
      if (err.code === 'LIMIT_FILE_SIZE') return this.tooLarge();
      const field = err.field ? `body.${err.field}` : 'body';
      const message = err.code === 'LIMIT_UNEXPECTED_FILE' ? `unexpected file part; send exactly one archive, in the "${ARCHIVE_FIELD}" part` : err.message;
      return new ApiError(HttpStatus.BAD_REQUEST, `${field}: ${message}`, [{ field, message }]);
    }
    // busboy's parse errors: a malformed or truncated multipart body.
    const message = `not a readable multipart/form-data body: ${(err as Error).message}`;
    return new ApiError(HttpStatus.BAD_REQUEST, `body: ${message}`, [{ field: 'body', message }]);
  }

  private tooLarge(): ApiError {
    const message = `larger than the upload limit of ${this.limit} bytes (DATASET_UPLOAD_LIMIT_BYTES)`;
    return new ApiError(HttpStatus.PAYLOAD_TOO_LARGE, `${ARCHIVE_FIELD}: ${message}`, [{ field: ARCHIVE_FIELD, message }]);
  }

  private discard(path: string): void {
    rm(path, { force: true }).catch((err: unknown) => this.logger.warn({ err, path }, 'could not remove an uploaded archive'));
  }
}
