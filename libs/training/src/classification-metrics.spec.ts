import { averagePrecision, classificationMetrics, rocAuc, scalarMetrics } from './classification-metrics.js';

/** Expected values below are worked out by hand in the comments. */
describe('classification metrics', () => {
  it('computes AUC with ties counted as half', () => {
    // positives 0.35, 0.8; negatives 0.1, 0.4: pairs won 1 + 2 of 4 -> 0.75
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBe(0.75);
    expect(rocAuc([0.5, 0.5], [false, true])).toBe(0.5);
    expect(rocAuc([1, 2, 3], [true, true, true])).toBeNaN();
  });

  it('computes average precision over thresholds', () => {
    // ranked: 0.9 (+), 0.8 (-), 0.7 (+), 0.1 (-): AP = 1/2 * 1/1 + 1/2 * 2/3 = 5/6
    expect(averagePrecision([0.9, 0.8, 0.7, 0.1], [true, false, true, false])).toBeCloseTo(5 / 6, 12);
    // a tie of one positive and one negative at the top: AP = 1 * 1/2
    expect(averagePrecision([0.5, 0.5], [true, false])).toBe(0.5);
    expect(averagePrecision([0.5], [false])).toBeNaN();
  });

  it('computes the binary figures a clinician reads', () => {
    // P(class 1): 0.1, 0.8, 0.4, 0.7, 0.3, 0.6; labels 0, 1, 1, 1, 0, 0
    const p1 = [0.1, 0.8, 0.4, 0.7, 0.3, 0.6];
    const probs = Float32Array.from(p1.flatMap((p) => [1 - p, p]));
    const m = classificationMetrics(probs, Int32Array.from([0, 1, 1, 1, 0, 0]), 2);
    // predicted 0, 1, 0, 1, 0, 1: TP 2, FN 1, TN 2, FP 1
    expect(m.confusionMatrix).toEqual([
      [2, 1],
      [1, 2],
    ]);
    expect(m.accuracy).toBeCloseTo(4 / 6, 6);
    expect(m.sensitivity).toBeCloseTo(2 / 3, 6);
    expect(m.specificity).toBeCloseTo(2 / 3, 6);
    expect(m.balancedAccuracy).toBeCloseTo(2 / 3, 6);
    expect(m.f1).toBeCloseTo(2 / 3, 6); // 2TP / (2TP + FP + FN) = 4/6
    // positives 0.8, 0.4, 0.7 vs negatives 0.1, 0.3, 0.6: wins 3 + 2 + 3 = 8 of 9
    expect(m.auc).toBeCloseTo(8 / 9, 6);
    // ranked 0.8+, 0.7+, 0.6-, 0.4+, 0.3-, 0.1-: AP = (1 + 1 + 3/4) / 3
    expect(m.aucPr).toBeCloseTo(11 / 12, 6);
    // confidences 0.9, 0.8, 0.6, 0.7, 0.7, 0.6 (correct, correct, wrong, correct, correct, wrong)
    // bins: [0.6,0.667) holds 0.6 (wrong) x2 -> |0 - 0.6| * 2; [0.667,0.733) holds 0.7 x2 correct -> |1 - 0.7| * 2;
    // [0.8,0.867) holds 0.8 -> 0.2; [0.867,0.933) holds 0.9 -> 0.1; total (1.2 + 0.6 + 0.2 + 0.1) / 6
    expect(m.ece).toBeCloseTo(2.1 / 6, 5);
    expect(m.loss).toBeCloseTo(-(Math.log(0.9) + Math.log(0.8) + Math.log(0.4) + Math.log(0.7) + Math.log(0.7) + Math.log(0.4)) / 6, 5);
  });

  it('macro-averages one-vs-rest figures for multi-class', () => {
    const probs = Float32Array.from([0.8, 0.1, 0.1, 0.1, 0.8, 0.1, 0.1, 0.1, 0.8, 0.6, 0.3, 0.1]);
    const m = classificationMetrics(probs, Int32Array.from([0, 1, 2, 1]), 3);
    // the last case (class 1) is predicted 0
    expect(m.confusionMatrix).toEqual([
      [1, 0, 0],
      [1, 1, 0],
      [0, 0, 1],
    ]);
    expect(m.accuracy).toBe(0.75);
    expect(m.balancedAccuracy).toBeCloseTo((1 + 0.5 + 1) / 3, 6);
    // F1 per class: 2/3, 2/3, 1
    expect(m.f1).toBeCloseTo((2 / 3 + 2 / 3 + 1) / 3, 6);
    // specificity per class: 2/3, 1, 1
    expect(m.specificity).toBeCloseTo((2 / 3 + 1 + 1) / 3, 6);
  });

  it('names scalar metrics for histories and drops undefined ones', () => {
    const probs = Float32Array.from([0.9, 0.1, 0.8, 0.2]);
    const named = scalarMetrics('val', classificationMetrics(probs, Int32Array.from([0, 0]), 2));
    expect(named).toMatchObject({ val_accuracy: 1, val_specificity: 1 });
    expect(named).not.toHaveProperty('val_auc'); // no positives: undefined, not NaN
  });
});
