import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { LayersModel } from '@tensorflow/tfjs';
import { LocalArtifactStore } from '@medfusion/artifacts';
import { modelConfigSchema, trainingConfigSchema } from '@medfusion/contracts';
import { generateSyntheticDataset, loadDataset } from '@medfusion/fusion';
import { encodeCheckpoint, type StoredTensor } from './checkpoint-codec.js';
import { buildFusionModel } from './fusion-model.js';
import { backboneWeightNames, loadInitialWeights } from './initial-weights.js';
import { exportLayersModel } from './model-export.js';
import { runTrainingSession } from './training-session.js';

const dir = mkdtempSync(join(tmpdir(), 'mf-weights-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cfg = modelConfigSchema.parse({ imageSize: 32, convFilters: [4], imageFeatureSize: 4, clinicalHiddenSize: 4, fusedSize: 4, dropout: 0 });
const build = (seed: number, over: Record<string, unknown> = {}) => buildFusionModel(tf, modelConfigSchema.parse({ ...cfg, ...over }), { numClinical: 3, seed });
const values = (m: LayersModel) => Object.fromEntries(m.weights.map((w) => [w.originalName, Array.from(w.read().dataSync())]));
const stored = (m: LayersModel, keep: (name: string) => boolean): StoredTensor[] =>
  m.weights.filter((w) => keep(w.originalName)).map((w) => ({ name: w.originalName, shape: w.shape as number[], data: w.read().dataSync() as Float32Array }));
function checkpointFile(name: string, weights: StoredTensor[]): string {
  const path = join(dir, name);
  writeFileSync(path, encodeCheckpoint({ meta: {}, weights, optimizer: [] }));
  return path;
}

let source: LayersModel;
let folder: string;
beforeAll(async () => {
  source = build(1);
  const exported = await exportLayersModel(tf, source, new LocalArtifactStore(dir), 'source');
  folder = join(dir, 'source');
  expect(exported.location).toBe(join(folder, 'model.json'));
});

describe('loadInitialWeights', () => {
  it('sets every weight from an exported model folder or its model.json', async () => {
    for (const path of [folder, join(folder, 'model.json')]) {
      const target = build(2);
      expect(values(target)).not.toEqual(values(source));
      const report = await loadInitialWeights(tf, target, path);
      expect(values(target)).toEqual(values(source));
      expect(report.loaded).toHaveLength(target.weights.length);
      expect(report.kept).toEqual([]);
      expect(report.source).toBe(join(folder, 'model.json'));
    }
  });

  it('names the weight, both shapes and the file when a shape does not fit', async () => {
    const target = build(2, { convFilters: [6] });
    const before = values(target);
    const err = await loadInitialWeights(tf, target, folder).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(`weight "image_conv1/kernel" in ${join(folder, 'model.json')} has shape [3, 3, 1, 4], the model expects [3, 3, 1, 6]`);
    expect(values(target)).toEqual(before); // nothing is set unless everything fits
  });

  it('requires every backbone weight, and fills the rest only where the file has them', async () => {
    const backbone = backboneWeightNames(source);
    expect([...backbone].sort()).toEqual(['image_conv1/bias', 'image_conv1/kernel']);

    const headOnly = checkpointFile('head-only.ckpt', stored(source, (n) => !backbone.has(n)));
    await expect(loadInitialWeights(tf, build(2), headOnly)).rejects.toThrow(`weight "image_conv1/kernel" (shape [3, 3, 1, 4]) is missing from ${headOnly}`);

    // Backbone-only weights (a pretrained image encoder) start a model whose head keeps its own initialisation.
    const backboneOnly = checkpointFile('backbone-only.ckpt', stored(source, (n) => backbone.has(n)));
    const target = build(2);
    const fresh = values(target);
    const report = await loadInitialWeights(tf, target, backboneOnly);
    expect(report.loaded.sort()).toEqual([...backbone].sort());
    const after = values(target);
    for (const name of Object.keys(after)) expect(after[name]).toEqual(backbone.has(name) ? values(source)[name] : fresh[name]);
  });

  it('says what is wrong with a path that is not a weights file', async () => {
    const junk = join(dir, 'notes.txt');
    writeFileSync(junk, 'not weights');
    await expect(loadInitialWeights(tf, build(2), junk)).rejects.toThrow(`modelConfig.weightsPath ${junk} is neither a TF.js layers model`);
    await expect(loadInitialWeights(tf, build(2), join(dir, 'missing'))).rejects.toThrow(/modelConfig.weightsPath .*missing cannot be read/);
    const other = checkpointFile('other.ckpt', [{ name: 'dense_9/kernel', shape: [1], data: new Float32Array(1) }]);
    await expect(loadInitialWeights(tf, build(2, { fusion: 'clinical_only' }), other)).rejects.toThrow(/none of the model's weights is in .*other\.ckpt/);
  });

  it('never quotes the bytes of a file that is not weights (e.g. /etc/passwd or /proc/self/environ named as weights)', async () => {
    const secret = 'root:x:0:0:SECRET_TOKEN=hunter2-do-not-leak';
    const plain = join(dir, 'passwd');
    writeFileSync(plain, `${secret}\n`);
    const asJson = join(dir, 'secret.json');
    writeFileSync(asJson, `${secret} {"weightsManifest": [`);
    const manifestOfSecrets = join(dir, 'manifest-secrets');
    mkdirSync(manifestOfSecrets);
    writeFileSync(join(manifestOfSecrets, 'model.json'), JSON.stringify({ weightsManifest: [{ paths: ['w.bin'], weights: [{ name: secret, shape: [1], dtype: secret }] }] }));
    writeFileSync(join(manifestOfSecrets, 'w.bin'), Buffer.alloc(4));
    const other = checkpointFile('secret-names.ckpt', [{ name: secret, shape: [1], data: new Float32Array(1) }]);
    for (const path of [plain, asJson, manifestOfSecrets, other]) {
      const err = await loadInitialWeights(tf, build(2, { fusion: path === other ? 'clinical_only' : 'concatenate' }), path).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect({ path, message: (err as Error).message }).toEqual({ path, message: expect.not.stringContaining('SECRET') });
      expect((err as Error).message).not.toContain('root:x');
    }
  });

  it('refuses a weight file that is a link out of the model folder', async () => {
    const outside = join(dir, 'outside.bin');
    writeFileSync(outside, Buffer.alloc(4096, 7));
    const folder = join(dir, 'linked-model');
    mkdirSync(folder);
    writeFileSync(join(folder, 'model.json'), JSON.stringify({ weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'image_conv1/kernel', shape: [3, 3, 1, 4] }] }] }));
    symlinkSync(outside, join(folder, 'w.bin'));
    await expect(loadInitialWeights(tf, build(2), folder)).rejects.toThrow(/names weight file "w.bin", a link that leads outside its folder/);
  });

  it('is what a training session starts from', async () => {
    const data = join(dir, 'data');
    await generateSyntheticDataset({ outDir: data, numCases: 20, seed: 3, imageSize: 32 });
    const dataset = await loadDataset(data, { imageColumn: 'image', labelColumn: 'label', splitColumn: 'split', imageSize: 32, imageChannels: 1 });
    const numClinical = dataset.clinicalColumns.length;
    const pretrained = buildFusionModel(tf, cfg, { numClinical, seed: 1 });
    await exportLayersModel(tf, pretrained, new LocalArtifactStore(dir), 'pretrained');

    let initial: StoredTensor[] = [];
    const outcome = await runTrainingSession({
      tf,
      modelConfig: { ...cfg, weightsPath: join(dir, 'pretrained') },
      trainingConfig: trainingConfigSchema.parse({ epochs: 1, seed: 9 }),
      data: dataset,
      control: () => 'pause', // checkpoint before the first step: the weights the session started from
      onStep: () => {},
      onEpoch: async () => {},
      saveCheckpoint: async (c) => void (initial = c.weights),
    });
    expect(outcome.kind).toBe('pause');
    expect(Object.fromEntries(initial.map((w) => [w.name, Array.from(w.data)]))).toEqual(values(pretrained));
  });
});
