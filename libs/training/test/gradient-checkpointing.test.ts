import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMAGE_BACKBONES, type ImageBackbone } from '@medfusion/contracts';

/**
 * modelConfig.gradientCheckpointing against the same model without it, per image backbone: same
 * initial weights, gradients, losses and weights after training, checkpoints resumed across the
 * switch, saved models reloaded and loaded as weightsPath either way, and a lower memory peak.
 * Every backbone runs on the fast CPU path (onnx-cpu, what the worker trains on without a GPU) and
 * resnet18 also on the pure-JS backend, each in a plain Node process on the built dist (see
 * fixtures/gradient-checkpointing-scenarios.mjs), two at a time.
 */
jest.setTimeout(150_000);
const script = fileURLToPath(new URL('./fixtures/gradient-checkpointing-scenarios.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'mf-checkpointing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Result {
  backend: string;
  build: { offLayers: number; onLayers: number; recomputeBlocks: number; initialDiff: number; weights: number };
  gradients: { lossOff: number; lossOn: number; relDiff: number; count: number };
  training: {
    steps: number;
    lossesOff: number[];
    lossesOn: number[];
    lossRelDiff: number;
    firstEpochRelDiff: number;
    finalRelDiff: number;
    moved: number;
    offResumedFromOnRelDiff: number;
    onResumedFromOffRelDiff: number;
    resumedOnOffRelDiff: number;
    resumedMovedRelDiff: number;
  };
  saved: {
    predictionDiff: number;
    reloadDiff: number;
    reloadedRecomputeBlocks: number;
    reloadedWeightNamesEqual: boolean;
    onIntoOff: { loaded: number; kept: number; diff: number };
    offIntoOn: { loaded: number; kept: number; diff: number };
  };
  memory?: { peakOff: number; peakOn: number; kernelsOff: number; kernelsOn: number; recomputeBlocks: number; relDiff: number; lossOff: number; lossOn: number };
}

/**
 * Blocks wrapped at depth 0.1 (one block per stage, one ViT block; DenseNet 1-1-2-2 dense layers
 * and 3 transitions) and at the papers' depth (ResNet 2-2-2-2 / 3-4-6-3, MobileNetV2 17 and
 * EfficientNet-B0 16 inverted residuals, DenseNet 6+12+24+16 dense layers and 3 transitions, ViT
 * 12 encoder blocks). small_cnn has none: the switch leaves it as it is.
 */
const BLOCKS: Record<ImageBackbone, { small: number; full: number }> = {
  small_cnn: { small: 0, full: 0 },
  resnet18: { small: 4, full: 8 },
  resnet34: { small: 4, full: 16 },
  mobilenet_v2: { small: 7, full: 17 },
  efficientnet_b0: { small: 7, full: 16 },
  densenet121: { small: 9, full: 61 },
  vit_tiny: { small: 1, full: 12 },
};

/** Peak tensor memory of one backbone gradient with the switch on, as a fraction of off, at most (measured 0.12 to 0.46). */
const PEAK_RATIO: Record<Exclude<ImageBackbone, 'small_cnn'>, number> = {
  resnet18: 0.6,
  resnet34: 0.45,
  mobilenet_v2: 0.5,
  efficientnet_b0: 0.45,
  densenet121: 0.25,
  vit_tiny: 0.25,
};

const runs: Array<[ImageBackbone, 'onnx-cpu' | 'cpu']> = [...IMAGE_BACKBONES.map((b) => [b, 'onnx-cpu'] as [ImageBackbone, 'onnx-cpu']), ['resnet18', 'cpu']];

// Two child processes at a time (the machines running the suite have two cores): each run starts
// when the one two places before it in the list has ended.
const results = new Map<string, Promise<Result>>();
const chains: Array<Promise<unknown>> = [Promise.resolve(), Promise.resolve()];
function result(backbone: ImageBackbone, backend: string): Promise<Result> {
  const key = `${backbone}/${backend}`;
  let r = results.get(key);
  if (!r) {
    r = chains.shift()!.then(() => run(backbone, backend));
    chains.push(r.catch(() => undefined));
    results.set(key, r);
  }
  return r;
}

function run(backbone: ImageBackbone, backend: string): Promise<Result> {
  const args = [script, backbone, dir, backend, ...(backend === 'onnx-cpu' && backbone !== 'small_cnn' ? ['--memory'] : [])];
  return new Promise((resolve, reject) =>
    execFile(process.execPath, args, { timeout: 140_000, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${backbone} on ${backend}: ${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.slice(stdout.lastIndexOf('@@RESULT@@') + 10)) as Result);
    }),
  );
}

// Start every run up front (two at a time), so the tests below only wait for their own.
beforeAll(() => {
  for (const [backbone, backend] of runs) void result(backbone, backend).catch(() => undefined);
});

describe.each(runs)('gradientCheckpointing: %s on %s', (backbone, backend) => {
  it('starts from the same weights and trains to the same losses and weights', async () => {
    const r = await result(backbone, backend);
    expect(r.backend).toBe(backend);
    expect(r.build.recomputeBlocks).toBe(BLOCKS[backbone].small);
    if (backbone !== 'small_cnn') expect(r.build.onLayers).toBeLessThan(r.build.offLayers);
    expect(r.build.initialDiff).toBe(0);

    // One gradient of the backbone alone: every weight's, equal (the re-run computes the same ops).
    expect(r.gradients.count).toBeGreaterThan(0);
    expect(r.gradients.lossOn).toBe(r.gradients.lossOff);
    expect(r.gradients.relDiff).toBeLessThanOrEqual(1e-5);

    // Two epochs of two Adam steps of the whole fusion model (dropout in the head, BatchNorm in
    // the blocks): the same losses, weights and BatchNorm statistics, all of which moved.
    expect(r.training.steps).toBe(4);
    expect(r.training.lossRelDiff).toBeLessThanOrEqual(1e-5);
    expect(r.training.firstEpochRelDiff).toBeLessThanOrEqual(1e-5);
    expect(r.training.finalRelDiff).toBeLessThanOrEqual(1e-5);
    expect(r.training.moved).toBe(r.build.weights);
  });

  it('resumes a checkpoint saved with the switch either way, and saved models load either way', async () => {
    const r = await result(backbone, backend);
    // A checkpoint saved with the switch on resumes with it off exactly as one saved with it off,
    // and the other way round (weights matched by name, Adam's slots put in the model's order).
    expect(r.training.offResumedFromOnRelDiff).toBe(0);
    expect(r.training.onResumedFromOffRelDiff).toBe(0);
    expect(r.training.resumedOnOffRelDiff).toBeLessThanOrEqual(1e-5);
    expect(r.training.resumedMovedRelDiff).toBeGreaterThan(0);

    expect(r.saved.predictionDiff).toBeLessThanOrEqual(1e-6);
    expect(r.saved.reloadDiff).toBe(0);
    expect(r.saved.reloadedRecomputeBlocks).toBe(BLOCKS[backbone].small);
    expect(r.saved.reloadedWeightNamesEqual).toBe(true);
    for (const cross of [r.saved.onIntoOff, r.saved.offIntoOn]) {
      expect(cross).toEqual({ loaded: r.build.weights, kept: 0, diff: 0 });
    }
  });

  if (backend === 'onnx-cpu' && backbone !== 'small_cnn') {
    it('lowers the memory peak of a gradient at the paper depth, for more kernel calls and the same gradients', async () => {
      const m = (await result(backbone, backend)).memory!;
      expect(m.recomputeBlocks).toBe(BLOCKS[backbone].full);
      expect(m.peakOn).toBeLessThan(m.peakOff * PEAK_RATIO[backbone]);
      // The blocks' forward passes run again in the backward pass.
      expect(m.kernelsOn).toBeGreaterThan(m.kernelsOff);
      expect(m.lossOn).toBe(m.lossOff);
      expect(m.relDiff).toBeLessThanOrEqual(1e-5);
    });
  }
});
