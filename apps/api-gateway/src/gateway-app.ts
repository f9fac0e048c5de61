import 'reflect-metadata';
import { RequestMethod, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Env } from '@medfusion/config';
import { openDatabase } from '@medfusion/persistence';
import type { Logger } from '@medfusion/runtime';
import { AppModule } from './app.module.js';
import { ApiKeyService } from './auth/api-key.service.js';
import { AllExceptionsFilter } from './common/all-exceptions.filter.js';
import { jsonBodyMiddleware } from './common/json-body.middleware.js';
import { PinoNestLogger } from './common/pino-nest-logger.js';

export const API_PREFIX = 'api/v1';
export const DOCS_PATH = 'api/docs';

/**
 * Builds the gateway (used by main.ts and by tests): database ready and migrated, bootstrap key
 * registered, body limits, error shape, OpenAPI. The caller listens and closes it.
 */
export async function createGatewayApp(env: Env, logger: Logger): Promise<INestApplication> {
  const ds = await openDatabase({
    url: env.DATABASE_URL,
    migrate: env.DB_MIGRATE_ON_START,
    onMigrated: (applied) => logger.info({ applied }, 'database migrated'),
    applicationName: 'medfusion-api-gateway',
    onConnectionError: (err) => logger.warn({ err }, 'postgres connection lost; the pool reconnects'),
  });

  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(env, ds, logger), {
    bodyParser: false,
    logger: new PinoNestLogger(logger),
  });
  app.use(jsonBodyMiddleware(env.BODY_LIMIT_BYTES, [`/${API_PREFIX}/datasets/upload`]));
  app.setGlobalPrefix(API_PREFIX, {
    exclude: [
      { path: 'health/live', method: RequestMethod.GET },
      { path: 'health/ready', method: RequestMethod.GET },
    ],
  });
  app.useGlobalFilters(new AllExceptionsFilter(logger));

  const doc = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('MedFusion API')
      .setDescription('Submit and manage multimodal training jobs, workflows, models and datasets.')
      .setVersion('1')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'API key' })
      .build(),
  );
  SwaggerModule.setup(DOCS_PATH, app, doc, { jsonDocumentUrl: `${DOCS_PATH}/openapi.json` });

  if (env.BOOTSTRAP_ADMIN_KEY) await app.get(ApiKeyService).ensureBootstrapKey(env.BOOTSTRAP_ADMIN_KEY);
  return app;
}
