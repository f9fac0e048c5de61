import { Body, Param, Query } from '@nestjs/common';
import { idParamSchema } from '@medfusion/contracts';
import type { z } from 'zod';
import { ZodValidationPipe } from './zod-validation.pipe.js';

export const ValidBody = (schema: z.ZodType) => Body(new ZodValidationPipe(schema, 'body'));
export const ValidQuery = (schema: z.ZodType) => Query(new ZodValidationPipe(schema, 'query'));
/** A UUID path parameter; anything else is a 400 naming the parameter, not a database error. */
export const IdParam = (name = 'id') => Param(name, new ZodValidationPipe(idParamSchema, name));
