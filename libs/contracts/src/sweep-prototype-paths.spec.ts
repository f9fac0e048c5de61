import { createSweepSchema, trialTrainingJob, TrialParamsError, sweepBaseTrainingJobSchema } from './sweep.schema.js';

const DATASET = '00000000-0000-4000-8000-000000000001';
const base = sweepBaseTrainingJobSchema.parse({ dataConfig: { datasetId: DATASET }, trainingConfig: { epochs: 2 } });
/**
 * Own keys of the shared prototypes, in this realm and in Node's main one: under Jest the test runs
 * in a VM context, and structuredClone (used by the sweep schema) builds its objects in the main
 * realm, so a write through their `__proto__` lands on the main realm's Object.prototype.
 */
const prototypeKeys = () =>
  [Object.prototype, Array.prototype, Function.prototype, Object.getPrototypeOf(structuredClone({})) as object, Object.getPrototypeOf(structuredClone([])) as object].map((p) =>
    Reflect.ownKeys(p).map(String).sort(),
  );

/**
 * Issue #17: validating a search space wrote its parameters into a training job with a naive path
 * writer, so `modelConfig.__proto__.pp_marker` landed on Object.prototype while the request was
 * answered 400, and every later request of the process failed.
 */
describe('sweep parameter paths cannot reach a prototype', () => {
  const before = prototypeKeys();
  afterEach(() => {
    expect(prototypeKeys()).toEqual(before);
    expect(({} as Record<string, unknown>)['pp_marker']).toBeUndefined();
  });

  const paths = [
    'modelConfig.__proto__.pp_marker',
    'trainingConfig.__proto__.pp_marker',
    'dataConfig.__proto__.pp_marker',
    'modelConfig.constructor.prototype.pp_marker',
    'trainingConfig.prototype.pp_marker',
    'modelConfig.__proto__',
  ];

  it.each(paths)('trialTrainingJob refuses %s with a TrialParamsError naming it', (path) => {
    let error: unknown;
    try {
      trialTrainingJob(base, { [path]: 'x' }, 'probe');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TrialParamsError);
    expect((error as TrialParamsError).field).toBe(path);
    expect((error as Error).message).toMatch(/is not allowed/);
  });

  it.each(paths)('a sweep whose search space names %s is refused, naming the parameter', (path) => {
    const parsed = createSweepSchema.safeParse({
      name: 'pollution',
      searchSpace: { [path]: { type: 'categorical', choices: ['x'] } },
      objectives: [{ metric: 'val_auc', direction: 'maximize' }],
      budget: { maxTrials: 2 },
      baseTrainingJob: { dataConfig: { datasetId: DATASET }, trainingConfig: { epochs: 2 } },
    });
    expect(parsed.success).toBe(false);
    const issue = parsed.error!.issues.find((i) => i.path.join('.') === `searchSpace.${path}`);
    expect(issue?.message).toMatch(/is not allowed/);
  });

  it('enqueued parameters named after Object.prototype members are unknown, not looked up on the prototype', () => {
    const parsed = createSweepSchema.safeParse({
      name: 'inherited names',
      searchSpace: { 'trainingConfig.learningRate': { type: 'float', low: 0.001, high: 0.1 } },
      objectives: [{ metric: 'val_auc', direction: 'maximize' }],
      budget: { maxTrials: 2 },
      baseTrainingJob: { dataConfig: { datasetId: DATASET }, trainingConfig: { epochs: 2 } },
      enqueueTrials: [{ constructor: 1, toString: 'x' }],
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => i.message)).toEqual([expect.stringMatching(/"constructor" is not a parameter/), expect.stringMatching(/"toString" is not a parameter/)]);
  });
});
