import { isParamActive, paramsInSamplingOrder } from './param-order.js';
import { numericFromUnit, numericToUnit } from './param-encoding.js';
import { parseSearchSpace, searchSpaceSchema, SearchSpaceError, type NumericParam } from './search-space.schema.js';
import { completeParamsUniformly } from '../sampler/random-sampler.js';
import { tuningRng } from '../random/tuning-rng.js';

function issuesOf(input: unknown): { field: string; message: string }[] {
  try {
    parseSearchSpace(input);
  } catch (error) {
    expect(error).toBeInstanceOf(SearchSpaceError);
    return (error as SearchSpaceError).issues;
  }
  throw new Error('expected the space to be refused');
}

describe('search space validation', () => {
  it('accepts every parameter kind and fills defaults', () => {
    const space = parseSearchSpace({
      optimizer: { type: 'categorical', choices: ['adam', 'sgd'] },
      lr: { type: 'float', low: 1e-5, high: 0.1, log: true },
      dropout: { type: 'float', low: 0, high: 0.5, step: 0.1 },
      layers: { type: 'int', low: 1, high: 4 },
      momentum: { type: 'float', low: 0.5, high: 0.99, condition: { parent: 'optimizer', values: ['sgd'] } },
      width: { type: 'int', low: 16, high: 64, step: 16, condition: { parent: 'layers', values: [3, 4] } },
    });
    expect(space['layers']).toEqual({ type: 'int', low: 1, high: 4, step: 1, log: false });
    expect(space['dropout']).toMatchObject({ log: false, step: 0.1 });
  });

  it.each([
    [{ a: { type: 'float', low: 2, high: 1 } }, 'a.high', 'must be >= low (2)'],
    [{ a: { type: 'float', low: 0, high: 1, log: true } }, 'a.low', 'must be > 0 when log is true'],
    [{ a: { type: 'float', low: 1, high: 10, log: true, step: 1 } }, 'a.step', 'cannot be combined with log: true'],
    [{ a: { type: 'float', low: 0, high: 1, step: 0.3 } }, 'a.step', 'must be a multiple of step (0.3)'],
    [{ a: { type: 'int', low: 0, high: 10, step: 3 } }, 'a.step', 'high - low (10) must be a multiple of step (3)'],
    [{ a: { type: 'int', low: 0, high: 10, log: true } }, 'a.low', 'must be >= 1 when log is true'],
    [{ a: { type: 'int', low: 0.5, high: 10 } }, 'a.low', ''],
    [{ a: { type: 'categorical', choices: ['x', 'x'] } }, 'a.choices.1', 'duplicate choice "x"'],
    [{ a: { type: 'categorical', choices: [] } }, 'a.choices', ''],
    [{ a: { type: 'uniform', low: 0, high: 1 } }, 'a.type', ''],
    [{ a: { type: 'float', low: 0, high: 1, lowe: 3 } }, 'a', 'lowe'],
    [{ '1a': { type: 'float', low: 0, high: 1 } }, '1a', ''],
    [{}, '', 'must define at least one parameter'],
    [{ a: { type: 'float', low: 0, high: 1, condition: { parent: 'b', values: [1] } } }, 'a.condition.parent', 'unknown parameter "b"'],
    [{ a: { type: 'float', low: 0, high: 1, condition: { parent: 'a', values: [1] } } }, 'a.condition.parent', 'cannot be its own parent'],
    [
      { f: { type: 'float', low: 0, high: 1 }, a: { type: 'float', low: 0, high: 1, condition: { parent: 'f', values: [0.5] } } },
      'a.condition.parent',
      'a parent must be categorical or int',
    ],
    [
      { o: { type: 'categorical', choices: ['adam'] }, a: { type: 'float', low: 0, high: 1, condition: { parent: 'o', values: ['sgd'] } } },
      'a.condition.values.0',
      '"sgd" is not a value "o" can take',
    ],
    [
      {
        a: { type: 'int', low: 0, high: 1, condition: { parent: 'b', values: [1] } },
        b: { type: 'int', low: 0, high: 1, condition: { parent: 'a', values: [1] } },
      },
      'a.condition.parent',
      'conditions form a cycle: a -> b -> a',
    ],
  ])('refuses %j naming field %s', (input, field, message) => {
    const issues = issuesOf(input);
    const hit = issues.find((i) => i.field === field);
    expect(hit).toBeDefined();
    expect(hit!.message).toContain(message);
  });

  it('puts a message naming the fields into the error text', () => {
    expect(() => parseSearchSpace({ lr: { type: 'float', low: 1, high: 0 } })).toThrow('invalid search space: lr.high: must be >= low (1)');
  });
});

describe('sampling order and conditions', () => {
  const space = parseSearchSpace({
    width: { type: 'int', low: 16, high: 64, step: 16, condition: { parent: 'layers', values: [3, 4] } },
    layers: { type: 'int', low: 1, high: 4 },
    lr: { type: 'float', low: 1e-4, high: 1, log: true },
  });

  it('places parents before their children, otherwise keeps the listed order', () => {
    expect(paramsInSamplingOrder(space).map((p) => p.name)).toEqual(['layers', 'width', 'lr']);
  });

  it('activates a child only for the listed parent values', () => {
    expect(isParamActive(space['width']!, { layers: 3 })).toBe(true);
    expect(isParamActive(space['width']!, { layers: 2 })).toBe(false);
    expect(isParamActive(space['width']!, {})).toBe(false);
    expect(isParamActive(space['lr']!, {})).toBe(true);
  });

  it('maps numeric parameters to the unit interval and back (log spacing, grid cells)', () => {
    const lr = space['lr'] as NumericParam;
    expect(numericToUnit(lr, 0.01)).toBeCloseTo(0.5, 12);
    expect(numericFromUnit(lr, 0.5)).toBeCloseTo(0.01, 12);
    const width = space['width'] as NumericParam;
    // Four grid values share [0, 1] in equal cells of 0.25.
    expect([0.01, 0.3, 0.6, 0.99].map((u) => numericFromUnit(width, u))).toEqual([16, 32, 48, 64]);
  });
});

describe('parameter names that Object.prototype also has', () => {
  it('a condition naming an inherited member ("constructor", "toString") is an unknown parent, not the prototype\'s function', () => {
    const parsed = searchSpaceSchema.safeParse({
      a: { type: 'int', low: 1, high: 3, condition: { parent: 'constructor', values: [1] } },
      b: { type: 'int', low: 1, high: 3, condition: { parent: 'toString', values: [1] } },
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => i.message)).toEqual(['unknown parameter "constructor"', 'unknown parameter "toString"']);
  });

  it('a parameter may be called "constructor" or "toString" and is sampled like any other, never taken from the prototype', () => {
    const space = searchSpaceSchema.parse({ constructor: { type: 'int', low: 1, high: 3 }, toString: { type: 'categorical', choices: ['a', 'b'] } });
    for (let seed = 0; seed < 5; seed++) {
      const params = completeParamsUniformly(space, {}, tuningRng(seed));
      expect(typeof params['constructor']).toBe('number');
      expect(['a', 'b']).toContain(params['toString']);
    }
    expect(isParamActive({ type: 'int', low: 1, high: 2, step: 1, log: false, condition: { parent: 'constructor', values: [2] } }, {})).toBe(false);
  });
});
