import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiQuery } from '@nestjs/swagger';
import { z } from 'zod';

type OpenApiSchema = Record<string, unknown>;

/** The same zod schema that validates a request documents it (one schema per contract). */
export function openApiSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): OpenApiSchema {
  return z.toJSONSchema(schema, { target: 'openapi-3.0', io, unrepresentable: 'any' }) as OpenApiSchema;
}

export const ApiZodBody = (schema: z.ZodType, description?: string) =>
  // swagger's SchemaObject type is narrower than JSON Schema; the document is what users read.
  ApiBody({ schema: openApiSchema(schema) as never, description });

/** Documents each property of a zod object schema as a query parameter. */
export function ApiZodQuery(schema: z.ZodObject): MethodDecorator {
  const json = openApiSchema(schema) as { properties?: Record<string, OpenApiSchema>; required?: string[] };
  const decorators = Object.entries(json.properties ?? {}).map(([name, prop]) =>
    ApiQuery({ name, required: json.required?.includes(name) ?? false, schema: prop as never }),
  );
  return applyDecorators(...decorators);
}
