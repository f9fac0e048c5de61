import { z } from 'zod';

/**
 * The search space of a sweep, as users write it (JSON): one entry per parameter name.
 *
 * ```json
 * { "optimizer": { "type": "categorical", "choices": ["adam", "sgd"] },
 *   "learningRate": { "type": "float", "low": 1e-5, "high": 0.1, "log": true },
 *   "momentum": { "type": "float", "low": 0.5, "high": 0.99, "condition": { "parent": "optimizer", "values": ["sgd"] } },
 *   "layers": { "type": "int", "low": 1, "high": 4 } }
 * ```
 *
 * A parameter with a `condition` is active only when its parent (a categorical or int parameter)
 * took one of the listed values; inactive parameters are absent from a trial's params.
 */
export const choiceValueSchema = z.union([z.string().max(200), z.number(), z.boolean()]);
export type ChoiceValue = z.infer<typeof choiceValueSchema>;

export const paramConditionSchema = z.strictObject({
  parent: z.string().min(1),
  values: z.array(choiceValueSchema).min(1).max(1000),
});
export type ParamCondition = z.infer<typeof paramConditionSchema>;

const MULTIPLE_TOLERANCE = 1e-9;
function isMultiple(range: number, step: number): boolean {
  const k = range / step;
  return Math.abs(k - Math.round(k)) <= MULTIPLE_TOLERANCE * Math.max(1, Math.abs(k));
}

export const floatParamSchema = z
  .strictObject({
    type: z.literal('float'),
    low: z.number(),
    high: z.number(),
    log: z.boolean().default(false),
    step: z.number().positive().optional(),
    condition: paramConditionSchema.optional(),
  })
  .superRefine((p, ctx) => {
    if (!(p.low <= p.high)) ctx.addIssue({ code: 'custom', path: ['high'], message: `must be >= low (${p.low})` });
    if (p.log && p.low <= 0) ctx.addIssue({ code: 'custom', path: ['low'], message: 'must be > 0 when log is true' });
    if (p.log && p.step !== undefined) ctx.addIssue({ code: 'custom', path: ['step'], message: 'cannot be combined with log: true' });
    if (p.step !== undefined && p.low <= p.high && !isMultiple(p.high - p.low, p.step)) {
      ctx.addIssue({ code: 'custom', path: ['step'], message: `high - low (${p.high - p.low}) must be a multiple of step (${p.step})` });
    }
  });
export type FloatParam = z.infer<typeof floatParamSchema>;

export const intParamSchema = z
  .strictObject({
    type: z.literal('int'),
    low: z.number().int(),
    high: z.number().int(),
    step: z.number().int().positive().default(1),
    log: z.boolean().default(false),
    condition: paramConditionSchema.optional(),
  })
  .superRefine((p, ctx) => {
    if (!(p.low <= p.high)) ctx.addIssue({ code: 'custom', path: ['high'], message: `must be >= low (${p.low})` });
    if (p.log && p.low < 1) ctx.addIssue({ code: 'custom', path: ['low'], message: 'must be >= 1 when log is true' });
    if (p.log && p.step !== 1) ctx.addIssue({ code: 'custom', path: ['step'], message: 'must be 1 when log is true' });
    if (p.low <= p.high && (p.high - p.low) % p.step !== 0) {
      ctx.addIssue({ code: 'custom', path: ['step'], message: `high - low (${p.high - p.low}) must be a multiple of step (${p.step})` });
    }
  });
export type IntParam = z.infer<typeof intParamSchema>;

export const categoricalParamSchema = z
  .strictObject({
    type: z.literal('categorical'),
    choices: z.array(choiceValueSchema).min(1).max(1000),
    condition: paramConditionSchema.optional(),
  })
  .superRefine((p, ctx) => {
    const seen = new Set<ChoiceValue>();
    p.choices.forEach((c, i) => {
      if (seen.has(c)) ctx.addIssue({ code: 'custom', path: ['choices', i], message: `duplicate choice ${JSON.stringify(c)}` });
      seen.add(c);
    });
  });
export type CategoricalParam = z.infer<typeof categoricalParamSchema>;

export const paramSpecSchema = z.discriminatedUnion('type', [floatParamSchema, intParamSchema, categoricalParamSchema]);
export type ParamSpec = z.infer<typeof paramSpecSchema>;
export type NumericParam = FloatParam | IntParam;

const paramName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'must start with a letter or "_" and contain only letters, digits, "_", "-" and "."')
  // Parameters live in plain objects keyed by name: this one would be read as the prototype.
  .refine((name) => name !== '__proto__', 'must not be "__proto__"');

export const searchSpaceSchema = z
  .record(paramName, paramSpecSchema)
  .superRefine((space, ctx) => {
    const names = Object.keys(space);
    if (names.length === 0) ctx.addIssue({ code: 'custom', path: [], message: 'must define at least one parameter' });
    if (names.length > 200) ctx.addIssue({ code: 'custom', path: [], message: `defines ${names.length} parameters; at most 200 are allowed` });
    for (const name of names) {
      const condition = space[name]!.condition;
      if (!condition) continue;
      const parent = Object.hasOwn(space, condition.parent) ? space[condition.parent] : undefined;
      const at = [name, 'condition', 'parent'];
      if (condition.parent === name) {
        ctx.addIssue({ code: 'custom', path: at, message: 'a parameter cannot be its own parent' });
      } else if (!parent) {
        ctx.addIssue({ code: 'custom', path: at, message: `unknown parameter "${condition.parent}"` });
      } else if (parent.type === 'float') {
        ctx.addIssue({ code: 'custom', path: at, message: `"${condition.parent}" is a float; a parent must be categorical or int` });
      } else {
        condition.values.forEach((v, i) => {
          if (!isInDomain(parent, v)) {
            ctx.addIssue({ code: 'custom', path: [name, 'condition', 'values', i], message: `${JSON.stringify(v)} is not a value "${condition.parent}" can take` });
          }
        });
      }
    }
    const cycle = findConditionCycle(space);
    if (cycle) ctx.addIssue({ code: 'custom', path: [cycle[0]!, 'condition', 'parent'], message: `conditions form a cycle: ${cycle.join(' -> ')}` });
  });
export type SearchSpace = z.infer<typeof searchSpaceSchema>;

/** Whether `value` is one the parameter can take (a choice, or an int on the grid). */
export function isInDomain(spec: ParamSpec, value: unknown): boolean {
  switch (spec.type) {
    case 'categorical':
      return spec.choices.includes(value as ChoiceValue);
    case 'int':
      return typeof value === 'number' && Number.isInteger(value) && value >= spec.low && value <= spec.high && (value - spec.low) % spec.step === 0;
    case 'float':
      return typeof value === 'number' && value >= spec.low && value <= spec.high && (spec.step === undefined || isMultiple(value - spec.low, spec.step));
  }
}

function findConditionCycle(space: Record<string, { condition?: ParamCondition | undefined }>): string[] | undefined {
  for (const start of Object.keys(space)) {
    const path = [start];
    let cur = space[start]?.condition?.parent;
    while (cur !== undefined && Object.hasOwn(space, cur)) {
      if (cur === start) return [...path, cur];
      if (path.includes(cur)) break; // a cycle not through `start`: reported from its own members
      path.push(cur);
      cur = space[cur]?.condition?.parent;
    }
  }
  return undefined;
}

/** One problem in a search space, with the path of the field at fault (e.g. `learningRate.low`). */
export interface SearchSpaceIssue {
  field: string;
  message: string;
}

export class SearchSpaceError extends Error {
  constructor(readonly issues: SearchSpaceIssue[]) {
    super(`invalid search space: ${issues.map((i) => `${i.field || '(root)'}: ${i.message}`).join('; ')}`);
    this.name = 'SearchSpaceError';
  }
}

/** Validates a user's search space; throws a SearchSpaceError naming every faulty field. */
export function parseSearchSpace(input: unknown): SearchSpace {
  const result = searchSpaceSchema.safeParse(input);
  if (result.success) return result.data;
  throw new SearchSpaceError(result.error.issues.map((i) => ({ field: i.path.map(String).join('.'), message: i.message })));
}
