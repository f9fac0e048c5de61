import { HttpStatus, type PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { ApiError, type FieldIssue } from './api-error.js';

export type InputSource = 'body' | 'query' | 'param';

/** Turns zod issues into field issues rooted at the input they came from (`body.`, `query.`...). */
export function zodIssuesToFields(error: z.ZodError, root: string): FieldIssue[] {
  return error.issues.map((i) => {
    const path = i.path.map(String);
    // Unknown keys are reported on the parent; name each key so the user sees which to drop.
    if (i.code === 'unrecognized_keys') {
      return { field: [root, ...path].join('.'), message: `unknown field(s): ${i.keys.join(', ')}` };
    }
    return { field: [root, ...path].join('.'), message: i.message };
  });
}

/** Validates and normalises one input with its contract schema; 400 names every bad field. */
export class ZodValidationPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(
    private readonly schema: S,
    private readonly root: string,
  ) {}

  transform(value: unknown): z.infer<S> {
    const parsed = this.schema.safeParse(value);
    if (parsed.success) return parsed.data;
    throw ApiError.fields(HttpStatus.BAD_REQUEST, zodIssuesToFields(parsed.error, this.root));
  }
}
