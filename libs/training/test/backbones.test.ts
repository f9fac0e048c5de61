import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMAGE_BACKBONES } from '@medfusion/contracts';

/**
 * Every image backbone builds at 32 px (1 and 3 channels) and at 48 px, builds the same weights
 * from the same seed, trains two steps, reloads from its saved TF.js folder with identical outputs,
 * and starts a freshly built model from that folder as `weightsPath`. Training runs in a plain Node
 * process on the built dist: see fixtures/backbone-scenarios.mjs.
 */
jest.setTimeout(150_000);
const script = fileURLToPath(new URL('./fixtures/backbone-scenarios.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'mf-backbones-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Result {
  builds: Array<{ imageSize: number; imageChannels: number; probabilities: number[]; weights: number; uniqueWeightNames: number }>;
  sameSeedMaxDiff: number;
  otherSeedMaxDiff: number;
  losses: number[];
  layers: Array<{ name: string; className: string }>;
  reloadMaxDiff: number;
  freshMaxDiff: number;
  weightsPath: { loaded: number; kept: number; maxDiff: number };
}

function run(backbone: string): Promise<Result> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [script, backbone, dir], { timeout: 140_000, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${backbone}: ${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.slice(stdout.lastIndexOf('@@RESULT@@') + 10)) as Result);
    }),
  );
}

/** Layers each backbone must contain: the defining parts of its architecture. */
const EXPECTED_LAYERS: Record<string, string[]> = {
  small_cnn: ['Conv2D', 'MaxPooling2D', 'GlobalAveragePooling2D'],
  resnet18: ['Conv2D', 'BatchNormalization', 'Add'],
  resnet34: ['Conv2D', 'BatchNormalization', 'Add'],
  mobilenet_v2: ['DepthwiseConv2D', 'BatchNormalization', 'Add'],
  efficientnet_b0: ['DepthwiseConv2D', 'Multiply', 'Reshape', 'Add'],
  densenet121: ['Concatenate', 'AveragePooling2D', 'BatchNormalization'],
  vit_tiny: ['MedFusionClsToken', 'MedFusionPositionEmbedding', 'MedFusionMultiHeadAttention', 'LayerNormalization', 'MedFusionSelectToken'],
};

const PREFIX: Record<string, string> = {
  small_cnn: 'image_',
  resnet18: 'image_resnet_',
  resnet34: 'image_resnet_',
  mobilenet_v2: 'image_mobilenetv2_',
  efficientnet_b0: 'image_efficientnet_',
  densenet121: 'image_densenet_',
  vit_tiny: 'image_vit_',
};

describe.each(IMAGE_BACKBONES)('backbone %s', (backbone) => {
  it('builds at 32 and 48 px, trains, reloads identically and loads as weightsPath', async () => {
    const r = await run(backbone);

    expect(r.builds.map((b) => [b.imageSize, b.imageChannels])).toEqual([[32, 1], [32, 3], [48, 3]]);
    for (const b of r.builds) {
      expect(b.uniqueWeightNames).toBe(b.weights);
      // Two cases x two classes of probabilities.
      expect(b.probabilities).toHaveLength(4);
      expect(b.probabilities[0]! + b.probabilities[1]!).toBeCloseTo(1, 5);
    }
    expect(r.sameSeedMaxDiff).toBe(0);
    expect(r.otherSeedMaxDiff).toBeGreaterThan(0);

    expect(r.losses).toHaveLength(2);
    for (const loss of r.losses) expect(Number.isFinite(loss)).toBe(true);
    const classes = r.layers.map((l) => l.className);
    expect(classes).toEqual(expect.arrayContaining(EXPECTED_LAYERS[backbone]!));
    // Stable, prefixed names: user-supplied weights are matched by them.
    const backboneLayers = r.layers.filter((l) => l.name.startsWith('image_') && l.name !== 'image_features').map((l) => l.name);
    expect(backboneLayers.length).toBeGreaterThan(2);
    expect(backboneLayers.filter((n) => !n.startsWith(PREFIX[backbone]!))).toEqual([]);

    expect(r.reloadMaxDiff).toBe(0);
    expect(r.freshMaxDiff).toBeGreaterThan(0);
    expect(r.weightsPath.kept).toBe(0);
    expect(r.weightsPath.loaded).toBe(r.builds[0]!.weights);
    expect(r.weightsPath.maxDiff).toBe(0);
  });
});
