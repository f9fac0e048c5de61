import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, isAbsolute } from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs';
import { decodeCheckpoint } from './checkpoint-codec.js';
import type { Tf } from './compute-backend.js';

/** Named float32 tensors read from a user-supplied weights file. */
export interface WeightsFile {
  /** The file the tensors came from, for error messages. */
  source: string;
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
}

export interface InitialWeightsReport {
  source: string;
  /** Model weights set from the file. */
  loaded: string[];
  /** Model weights the file does not have (not required), left at their seeded initialisation. */
  kept: string[];
}

export class WeightsFileError extends Error {
  readonly code = 'WEIGHTS_FILE';
}

interface ManifestGroup {
  paths: string[];
  weights: Array<{ name: string; shape: number[]; dtype?: string; quantization?: unknown }>;
}

/**
 * A string read from a weights file, for an error message: weight names and dtypes look like
 * `image_conv1/kernel` or `float16`; anything else is not quoted. A file named as weights may be
 * something else entirely (a member once pointed weightsPath at /etc/passwd), and its error must
 * not become a way to read it.
 */
function named(value: unknown): string {
  return typeof value === 'string' && /^[\w./:-]{1,200}$/.test(value) ? `"${value}"` : '(an entry that is not a weight name)';
}

/**
 * Reads user-supplied weights: a TF.js layers-format model (its folder, or its model.json with the
 * weight files beside it, as MedFusion exports models) or a MedFusion checkpoint file. `label` names
 * where the path came from in errors (`modelConfig.weightsPath`, `modelConfig.initialWeights.modelId`).
 * Errors name the file and what is wrong with it, never the bytes in it.
 */
export async function readWeightsFile(path: string, label = 'modelConfig.weightsPath'): Promise<WeightsFile> {
  let file = resolve(path);
  let info;
  try {
    info = await stat(file);
  } catch (err) {
    throw new WeightsFileError(`${label} ${path} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  if (info.isDirectory()) file = join(file, 'model.json');
  const bytes = await readFile(file).catch((err: Error) => {
    throw new WeightsFileError(`${label} ${path}: ${file} cannot be read: ${err.message}`, { cause: err });
  });
  if (file.endsWith('.json')) return readLayersModel(file, bytes, label);
  try {
    const ckpt = decodeCheckpoint<unknown>(bytes, file);
    return { source: file, tensors: new Map(ckpt.weights.map((w) => [w.name, { shape: w.shape, data: w.data }])) };
  } catch (err) {
    throw new WeightsFileError(`${label} ${file} is neither a TF.js layers model (a folder with model.json, or model.json) nor a MedFusion checkpoint`, { cause: err });
  }
}

async function readLayersModel(file: string, bytes: Buffer, label: string): Promise<WeightsFile> {
  let manifest: ManifestGroup[];
  try {
    const json = JSON.parse(bytes.toString('utf8')) as { weightsManifest?: ManifestGroup[] };
    if (!Array.isArray(json?.weightsManifest)) throw new WeightsFileError(`${label} ${file} is not a TF.js layers model.json: it has no weightsManifest`);
    manifest = json.weightsManifest;
  } catch (err) {
    if (err instanceof WeightsFileError) throw err;
    // Not the parser's message: it quotes the text around the error.
    throw new WeightsFileError(`${label} ${file} is not a TF.js layers model.json: it is not valid JSON`, { cause: err });
  }
  const folder = dirname(file);
  const realFolder = await realpath(folder);
  const tensors: WeightsFile['tensors'] = new Map();
  for (const group of manifest) {
    // A group's weights lie back to back across its files, in order.
    const parts: Buffer[] = [];
    for (const p of group.paths) {
      const abs = resolve(folder, String(p));
      const rel = relative(folder, abs);
      if (rel.startsWith('..') || isAbsolute(rel)) throw new WeightsFileError(`${file} names weight file ${named(p)} outside its folder`);
      const real = await realpath(abs).catch((err: Error) =>
        Promise.reject(new WeightsFileError(`${file} names weight file ${named(p)}, which cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err })),
      );
      // A weight file that is a link out of the folder would be read as float32 weights and end up in the model.
      const realRel = relative(realFolder, real);
      if (realRel.startsWith('..') || isAbsolute(realRel)) throw new WeightsFileError(`${file} names weight file ${named(p)}, a link that leads outside its folder`);
      parts.push(await readFile(real).catch((err: Error) => Promise.reject(new WeightsFileError(`${file} names weight file ${named(p)}, which cannot be read: ${err.message}`, { cause: err }))));
    }
    const data = Buffer.concat(parts);
    let offset = 0;
    for (const w of group.weights) {
      if ((w.dtype ?? 'float32') !== 'float32' || w.quantization) {
        throw new WeightsFileError(`weight ${named(w.name)} in ${file} is ${w.quantization ? 'quantized' : named(w.dtype)}; only float32 weights can be loaded`);
      }
      const count = w.shape.reduce((a, b) => a * b, 1);
      if (offset + count * 4 > data.length) throw new WeightsFileError(`weight ${named(w.name)} in ${file} lies past the end of its weight files (${data.length} bytes)`);
      // Copy: the buffer's offset need not be 4-byte aligned.
      const values = new Float32Array(count);
      new Uint8Array(values.buffer).set(data.subarray(offset, offset + count * 4));
      tensors.set(w.name, { shape: w.shape, data: values });
      offset += count * 4;
    }
  }
  return { source: file, tensors };
}

/**
 * Names of the weights of the image backbone: every layer the `image_features` layer depends on.
 * A model without an image branch (the clinical-only baseline) has none.
 */
export function backboneWeightNames(model: LayersModel): Set<string> {
  const names = new Set<string>();
  const head = model.layers.find((l) => l.name === 'image_features');
  if (!head) return names;
  const seen = new Set<string>();
  const stack = head.inboundNodes.flatMap((n) => n.inboundLayers);
  while (stack.length) {
    const layer = stack.pop()!;
    if (seen.has(layer.name)) continue;
    seen.add(layer.name);
    for (const w of layer.weights) names.add(w.originalName);
    stack.push(...layer.inboundNodes.flatMap((n) => n.inboundLayers));
  }
  return names;
}

const fmt = (shape: ReadonlyArray<number | null>) => `[${shape.join(', ')}]`;

/**
 * Sets a model's weights from a file, matched by weight name (`layer/weight`, as TF.js saves them)
 * and checked by shape. Every `required` weight must be in the file; the others are set when the
 * file has them and otherwise keep their seeded initialisation (so backbone-only weights can start
 * a model with a new head). Nothing is set unless every check passes.
 */
export function applyWeightsFile(tf: Tf, model: LayersModel, file: WeightsFile, required: ReadonlySet<string>, label = 'modelConfig.weightsPath'): InitialWeightsReport {
  const problems: string[] = [];
  const assign: Array<{ index: number; shape: number[]; data: Float32Array }> = [];
  const report: InitialWeightsReport = { source: file.source, loaded: [], kept: [] };
  model.weights.forEach((w, index) => {
    const found = file.tensors.get(w.originalName);
    if (!found) {
      if (required.has(w.originalName)) problems.push(`weight "${w.originalName}" (shape ${fmt(w.shape)}) is missing from ${file.source}`);
      else report.kept.push(w.originalName);
      return;
    }
    const same = found.shape.length === w.shape.length && found.shape.every((d, i) => d === w.shape[i]);
    if (!same) problems.push(`weight "${w.originalName}" in ${file.source} has shape ${fmt(found.shape)}, the model expects ${fmt(w.shape)}`);
    else {
      assign.push({ index, ...found });
      report.loaded.push(w.originalName);
    }
  });
  if (problems.length) {
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
    throw new WeightsFileError(`${label} does not fit the model: ${problems.slice(0, 5).join('; ')}${more}`);
  }
  if (assign.length === 0) {
    const sample = [...file.tensors.keys()].slice(0, 3).map(named).join(', ');
    throw new WeightsFileError(`none of the model's weights is in ${file.source} (it has ${file.tensors.size} weights, e.g. ${sample}); was it saved from another backbone?`);
  }
  const values = model.getWeights();
  tf.tidy(() => {
    for (const a of assign) values[a.index] = tf.tensor(a.data, a.shape);
    model.setWeights(values);
  });
  return report;
}

/** Reads `path` and sets the model's weights from it; the image backbone's weights are required. `label`: as readWeightsFile's. */
export async function loadInitialWeights(tf: Tf, model: LayersModel, path: string, label = 'modelConfig.weightsPath'): Promise<InitialWeightsReport> {
  return applyWeightsFile(tf, model, await readWeightsFile(path, label), backboneWeightNames(model), label);
}
