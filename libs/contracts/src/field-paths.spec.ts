import { FieldPathError, fieldPathIssue, setAtPath } from './field-paths.js';

/** Own keys of the shared prototypes: a write that reached one of them changes these. */
/**
 * Own keys of the shared prototypes, in this realm and in Node's main one: under Jest the test runs
 * in a VM context, and structuredClone (used by the sweep schema) builds its objects in the main
 * realm, so a write through their `__proto__` lands on the main realm's Object.prototype.
 */
const prototypeKeys = () =>
  [Object.prototype, Array.prototype, Function.prototype, Object.getPrototypeOf(structuredClone({})) as object, Object.getPrototypeOf(structuredClone([])) as object].map((p) =>
    Reflect.ownKeys(p).map(String).sort(),
  );

describe('setAtPath', () => {
  const before = prototypeKeys();
  afterEach(() => expect(prototypeKeys()).toEqual(before));

  it('writes at a dotted path, creating plain objects on the way and keeping siblings', () => {
    const target: Record<string, unknown> = { trainingConfig: { epochs: 3 } };
    setAtPath(target, 'trainingConfig.optimizer.momentum', 0.9);
    setAtPath(target, 'modelConfig.fusion', 'gated');
    expect(target).toEqual({ trainingConfig: { epochs: 3, optimizer: { momentum: 0.9 } }, modelConfig: { fusion: 'gated' } });
    expect(Object.getPrototypeOf(target['modelConfig'])).toBe(Object.prototype);
  });

  it.each([
    'modelConfig.__proto__.pp_marker',
    '__proto__.pp_marker',
    'modelConfig.__proto__',
    'trainingConfig.constructor.prototype.pp_marker',
    'constructor.prototype.pp_marker',
    'modelConfig.prototype.pp_marker',
    'a.b.constructor',
  ])('refuses %s, naming the segment, and leaves every prototype alone', (path) => {
    const target: Record<string, unknown> = { modelConfig: {}, trainingConfig: {} };
    expect(() => setAtPath(target, path, 'x')).toThrow(FieldPathError);
    expect(() => setAtPath(target, path, 'x')).toThrow(/segment "(__proto__|constructor|prototype)" is not allowed/);
    expect(({} as Record<string, unknown>)['pp_marker']).toBeUndefined();
    expect(target).toEqual({ modelConfig: {}, trainingConfig: {} });
  });

  it('never walks into inherited members: `toString.x` makes an own field instead of writing onto a function', () => {
    const target: Record<string, unknown> = {};
    setAtPath(target, 'toString.x', 1);
    expect(Object.hasOwn(target, 'toString')).toBe(true);
    expect(target['toString']).toEqual({ x: 1 });
    expect((Object.prototype.toString as unknown as Record<string, unknown>)['x']).toBeUndefined();
  });

  it('defines the value even where the target has an own "__proto__" field (as JSON.parse leaves it), without changing its prototype', () => {
    const target = JSON.parse('{"a": {}}') as Record<string, unknown>;
    setAtPath(target, 'a.b', { c: 1 });
    expect(Object.getPrototypeOf(target['a'])).toBe(Object.prototype);
    expect(target).toEqual({ a: { b: { c: 1 } } });
  });

  it('refuses to walk through values that are not plain objects, naming the prefix', () => {
    const target: Record<string, unknown> = { a: [1, 2], n: 3, s: 'str' };
    expect(() => setAtPath(target, 'a.length', 0)).toThrow('a.length: a is not an object, so it has no field "length"');
    expect(() => setAtPath(target, 'n.x', 0)).toThrow(/n is not an object/);
    expect(() => setAtPath(target, 's.length', 0)).toThrow(/s is not an object/);
    expect(target).toEqual({ a: [1, 2], n: 3, s: 'str' });
  });

  it('fieldPathIssue names empty and forbidden segments', () => {
    expect(fieldPathIssue('trainingConfig.learningRate')).toBeNull();
    expect(fieldPathIssue('a..b')).toMatch(/empty segment/);
    expect(fieldPathIssue('a.__proto__')).toMatch(/"__proto__"/);
  });
});
