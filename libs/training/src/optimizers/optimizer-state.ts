import type { LayersModel, Variable } from '@tensorflow/tfjs';

/**
 * Optimizer state is named after TF.js variables (`<variable>/m`, `<variable>/momentum`), and TF.js
 * makes variable names unique per process: a model built a second time in the same process gets
 * `dense/kernel_1`. Checkpoints therefore store the state under the weights' stable names
 * (`originalName`, the layer's name + the weight's) and a resume maps them back to the live names.
 * The suffix after the last `/` is the optimizer's own (`m`, `v`, `momentum`); names without a
 * known variable (`iter`) are kept.
 */
export function toStableOptimizerName(model: LayersModel, name: string): string {
  return renamePrefix(name, new Map(model.weights.map((w) => [(w.read() as Variable).name, w.originalName])));
}

export function toLiveOptimizerName(model: LayersModel, name: string): string {
  return renamePrefix(name, new Map(model.weights.map((w) => [w.originalName, (w.read() as Variable).name])));
}

function renamePrefix(name: string, map: ReadonlyMap<string, string>): string {
  const cut = name.lastIndexOf('/');
  if (cut < 0) return name;
  const mapped = map.get(name.slice(0, cut));
  return mapped === undefined ? name : `${mapped}${name.slice(cut)}`;
}
