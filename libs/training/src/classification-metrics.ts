/**
 * Metrics of a classifier's predicted probabilities (row-major N x K) against integer labels.
 * AUC is one-vs-rest averaged over classes that have both positives and negatives.
 */
export interface ClassificationMetrics {
  loss: number;
  accuracy: number;
  auc: number;
}

export function classificationMetrics(probs: Float32Array, labels: Int32Array, numClasses: number): ClassificationMetrics {
  const n = labels.length;
  if (n === 0) return { loss: NaN, accuracy: NaN, auc: NaN };
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const row = probs.subarray(i * numClasses, (i + 1) * numClasses);
    loss -= Math.log(Math.max(row[labels[i]!]!, 1e-7));
    let best = 0;
    for (let k = 1; k < numClasses; k++) if (row[k]! > row[best]!) best = k;
    if (best === labels[i]) correct++;
  }
  const classes = numClasses === 2 ? [1] : Array.from({ length: numClasses }, (_, k) => k);
  const aucs = classes
    .map((k) => rocAuc(Array.from({ length: n }, (_, i) => probs[i * numClasses + k]!), Array.from(labels, (y) => y === k)))
    .filter((a) => !Number.isNaN(a));
  return { loss: loss / n, accuracy: correct / n, auc: aucs.length ? aucs.reduce((a, b) => a + b, 0) / aucs.length : NaN };
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
