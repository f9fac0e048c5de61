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

/**
 * TF.js's Adam and momentum optimizers keep their state by position, not by name: the i-th slot of
 * each kind (`/m`, `/v`, `/momentum`) belongs to the i-th variable of the gradients they are given,
 * which follow the model's trainable weights. That order is not a function of the weights alone:
 * gradient checkpointing lists each block's weights together, so a checkpoint saved with it on
 * lists them in another order than a model with it off trains them. Puts each kind's slots back in
 * the order of `variables` (live names), in the positions that kind held; entries without a known
 * variable (`iter`) stay where they are. A no-op when the orders agree.
 */
export function inVariableOrder<T extends { name: string }>(state: readonly T[], variables: ReadonlyArray<{ name: string }>): T[] {
  const rank = new Map(variables.map((v, i) => [v.name, i]));
  const kinds = new Map<string, number[]>();
  state.forEach((t, i) => {
    const cut = t.name.lastIndexOf('/');
    if (cut < 0 || !rank.has(t.name.slice(0, cut))) return;
    const kind = t.name.slice(cut);
    kinds.set(kind, [...(kinds.get(kind) ?? []), i]);
  });
  const out = [...state];
  const variableOf = (t: T) => rank.get(t.name.slice(0, t.name.lastIndexOf('/')))!;
  for (const positions of kinds.values()) {
    const sorted = positions.map((i) => state[i]!).sort((a, b) => variableOf(a) - variableOf(b));
    positions.forEach((p, k) => (out[p] = sorted[k]!));
  }
  return out;
}
