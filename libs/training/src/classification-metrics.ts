/**
 * Metrics of a classifier's predicted probabilities (row-major N x K) against integer labels, as
 * medical users report them. Binary tasks treat class 1 as positive; multi-class tasks average
 * one-vs-rest figures over the classes present (macro).
 */
export interface ClassificationMetrics {
  loss: number;
  accuracy: number;
  /** Mean recall over classes: robust to class imbalance. */
  balancedAccuracy: number;
  /** Area under the ROC curve (one-vs-rest macro for multi-class). */
  auc: number;
  /** Area under the precision-recall curve, as average precision. */
  aucPr: number;
  f1: number;
  /** Recall of the positive class (macro recall for multi-class). */
  sensitivity: number;
  /** Recall of the negative class (macro one-vs-rest specificity for multi-class). */
  specificity: number;
  /** Expected calibration error over 15 equal-width confidence bins. */
  ece: number;
  /** Rows are true classes, columns predicted classes. */
  confusionMatrix: number[][];
}

/** The scalar metrics under names such as `val_auc`, for histories, events and monitors. */
export function scalarMetrics(prefix: string, m: ClassificationMetrics): Record<string, number> {
  const named: Record<string, number> = {
    loss: m.loss,
    accuracy: m.accuracy,
    balanced_accuracy: m.balancedAccuracy,
    auc: m.auc,
    auc_pr: m.aucPr,
    f1: m.f1,
    sensitivity: m.sensitivity,
    specificity: m.specificity,
    ece: m.ece,
  };
  return Object.fromEntries(Object.entries(named).filter(([, v]) => Number.isFinite(v)).map(([k, v]) => [`${prefix}_${k}`, v]));
}

const ECE_BINS = 15;

export function classificationMetrics(probs: Float32Array, labels: Int32Array, numClasses: number): ClassificationMetrics {
  const n = labels.length;
  const confusionMatrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  if (n === 0) {
    return { loss: NaN, accuracy: NaN, balancedAccuracy: NaN, auc: NaN, aucPr: NaN, f1: NaN, sensitivity: NaN, specificity: NaN, ece: NaN, confusionMatrix };
  }
  let loss = 0;
  const binCount = new Array<number>(ECE_BINS).fill(0);
  const binConfidence = new Array<number>(ECE_BINS).fill(0);
  const binCorrect = new Array<number>(ECE_BINS).fill(0);
  for (let i = 0; i < n; i++) {
    const row = probs.subarray(i * numClasses, (i + 1) * numClasses);
    const y = labels[i]!;
    loss -= Math.log(Math.max(row[y]!, 1e-7));
    let best = 0;
    for (let k = 1; k < numClasses; k++) if (row[k]! > row[best]!) best = k;
    confusionMatrix[y]![best]!++;
    const confidence = row[best]!;
    const bin = Math.min(ECE_BINS - 1, Math.floor(confidence * ECE_BINS));
    binCount[bin]!++;
    binConfidence[bin]! += confidence;
    if (best === y) binCorrect[bin]!++;
  }
  const ece = binCount.reduce((sum, c, b) => (c ? sum + Math.abs(binCorrect[b]! - binConfidence[b]!) : sum), 0) / n;

  const perClass = confusionMatrix.map((row, k) => {
    const tp = row[k]!;
    const fn = row.reduce((a, b) => a + b, 0) - tp;
    const fp = confusionMatrix.reduce((a, r) => a + r[k]!, 0) - tp;
    const tn = n - tp - fn - fp;
    const scores = Array.from({ length: n }, (_, i) => probs[i * numClasses + k]!);
    const positive = Array.from(labels, (y) => y === k);
    return {
      present: tp + fn > 0,
      recall: tp + fn ? tp / (tp + fn) : NaN,
      specificity: tn + fp ? tn / (tn + fp) : NaN,
      f1: 2 * tp + fp + fn ? (2 * tp) / (2 * tp + fp + fn) : NaN,
      auc: rocAuc(scores, positive),
      ap: averagePrecision(scores, positive),
    };
  });
  const present = perClass.filter((c) => c.present);
  const mean = (xs: number[]) => {
    const ok = xs.filter((x) => !Number.isNaN(x));
    return ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : NaN;
  };
  const accuracy = confusionMatrix.reduce((a, row, k) => a + row[k]!, 0) / n;
  const balancedAccuracy = mean(present.map((c) => c.recall));
  if (numClasses === 2) {
    const pos = perClass[1]!;
    return { loss: loss / n, accuracy, balancedAccuracy, auc: pos.auc, aucPr: pos.ap, f1: pos.f1, sensitivity: pos.recall, specificity: pos.specificity, ece, confusionMatrix };
  }
  return {
    loss: loss / n,
    accuracy,
    balancedAccuracy,
    auc: mean(perClass.map((c) => c.auc)),
    aucPr: mean(perClass.map((c) => c.ap)),
    f1: mean(present.map((c) => c.f1)),
    sensitivity: balancedAccuracy,
    specificity: mean(present.map((c) => c.specificity)),
    ece,
    confusionMatrix,
  };
}

/** Area under the ROC curve via the rank-sum statistic, with ties given their average rank. */
export function rocAuc(scores: number[], positive: boolean[]): number {
  const order = scores.map((s, i) => [s, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(scores.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    for (let k = i; k <= j; k++) ranks[order[k]![1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  let pos = 0;
  let rankSum = 0;
  positive.forEach((p, i) => {
    if (p) {
      pos++;
      rankSum += ranks[i]!;
    }
  });
  const neg = scores.length - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * Average precision: the sum over score thresholds (highest first, tied scores together) of the
 * recall gained times the precision at that threshold. NaN without positives.
 */
export function averagePrecision(scores: number[], positive: boolean[]): number {
  const total = positive.filter(Boolean).length;
  if (total === 0) return NaN;
  const order = scores.map((s, i) => [s, i] as const).sort((a, b) => b[0] - a[0]);
  let tp = 0;
  let seen = 0;
  let ap = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    let gained = 0;
    while (j < order.length && order[j]![0] === order[i]![0]) {
      if (positive[order[j]![1]]) gained++;
      j++;
    }
    tp += gained;
    seen += j - i;
    ap += (gained / total) * (tp / seen);
    i = j;
  }
  return ap;
}
