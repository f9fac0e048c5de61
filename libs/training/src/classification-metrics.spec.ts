import { classificationMetrics, rocAuc } from './classification-metrics.js';

describe('classification metrics', () => {
  it('computes AUC with ties as half', () => {
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBe(0.75);
    expect(rocAuc([0.5, 0.5], [false, true])).toBe(0.5);
    expect(rocAuc([1, 2, 3], [true, true, true])).toBeNaN();
  });

  it('computes loss, accuracy and AUC of binary probabilities', () => {
    const probs = Float32Array.from([0.9, 0.1, 0.2, 0.8, 0.6, 0.4, 0.3, 0.7]);
    const m = classificationMetrics(probs, Int32Array.from([0, 1, 1, 1]), 2);
    expect(m.accuracy).toBe(0.75);
    expect(m.auc).toBe(1);
    expect(m.loss).toBeCloseTo(-(Math.log(0.9) + Math.log(0.8) + Math.log(0.4) + Math.log(0.7)) / 4, 5);
  });

  it('averages one-vs-rest AUC over classes for multi-class', () => {
    const probs = Float32Array.from([0.8, 0.1, 0.1, 0.1, 0.8, 0.1, 0.1, 0.1, 0.8]);
    expect(classificationMetrics(probs, Int32Array.from([0, 1, 2]), 3)).toMatchObject({ accuracy: 1, auc: 1 });
  });
});
