import { intermediateCurve, lastStep, trialSchema } from './trial.js';

describe('trial schema', () => {
  it('accepts a plain JSON trial and fills defaults', () => {
    const t = trialSchema.parse({ number: 3, state: 'running', params: { lr: 0.01, opt: 'adam' } });
    expect(t).toEqual({ number: 3, state: 'running', params: { lr: 0.01, opt: 'adam' }, intermediateValues: [], samplerAttrs: {} });
  });

  it('refuses a complete trial without values and a step reported twice, naming the field', () => {
    const r = trialSchema.safeParse({ number: 0, state: 'complete', params: {}, intermediateValues: [{ step: 1, value: 2 }, { step: 1, value: 3 }] });
    expect(r.success).toBe(false);
    const paths = r.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['values', 'intermediateValues.1.step']));
  });

  it('reads curves up to a step and the last step', () => {
    const t = trialSchema.parse({ number: 0, state: 'running', params: {}, intermediateValues: [{ step: 4, value: 1 }, { step: 2, value: 3 }, { step: 0, value: 5 }] });
    expect(intermediateCurve(t, 2).map((iv) => iv.step)).toEqual([0, 2]);
    expect(lastStep(t)).toBe(4);
  });
});
