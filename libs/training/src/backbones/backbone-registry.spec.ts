import * as tf from '@tensorflow/tfjs';
import { IMAGE_BACKBONES, modelConfigSchema } from '@medfusion/contracts';
import { scaledDepth, scaledWidth, stemReduction } from './backbone-context.js';
import { IMAGE_BACKBONE_BUILDERS, buildBackboneModel } from './index.js';
import { vitPatchSize } from './vit.js';

describe('image backbone registry', () => {
  it('has exactly one builder per backbone the contract accepts', () => {
    expect(Object.keys(IMAGE_BACKBONE_BUILDERS).sort()).toEqual([...IMAGE_BACKBONES].sort());
  });

  it('accepts every backbone name and rejects others, naming the field', () => {
    for (const backbone of IMAGE_BACKBONES) expect(modelConfigSchema.parse({ backbone }).backbone).toBe(backbone);
    const bad = modelConfigSchema.safeParse({ backbone: 'resnet50' });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]!.path).toEqual(['backbone']);
  });

  it('bounds width, depth and patch size with messages', () => {
    expect(modelConfigSchema.parse({})).toMatchObject({ backboneWidth: 1, backboneDepth: 1 });
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ backboneWidth: 0.01 }, 'backboneWidth', /at least 0\.0625/],
      [{ backboneWidth: 5 }, 'backboneWidth', /at most 4/],
      [{ backboneDepth: 0 }, 'backboneDepth', /at least 0\.05/],
      [{ patchSize: 1 }, 'patchSize', /at least 2/],
      [{ patchSize: 4.5 }, 'patchSize', /./],
    ];
    for (const [input, field, message] of cases) {
      const r = modelConfigSchema.safeParse(input);
      expect(r.success).toBe(false);
      expect(r.error!.issues[0]!.path).toEqual([field]);
      expect(r.error!.issues[0]!.message).toMatch(message);
    }
  });

  it('refuses a patch size the model would not use, naming the field', () => {
    expect(modelConfigSchema.parse({ backbone: 'vit_tiny', imageSize: 32, patchSize: 8 }).patchSize).toBe(8);
    for (const [input, message] of [
      [{ backbone: 'resnet18', patchSize: 8 }, 'patchSize applies to backbone "vit_tiny" only, not "resnet18"'],
      [{ backbone: 'vit_tiny', imageSize: 32, patchSize: 40 }, 'patchSize 40 is larger than imageSize 32'],
    ] as const) {
      const r = modelConfigSchema.safeParse(input);
      expect(r.error?.issues.map((i) => [i.path, i.message])).toEqual([[['patchSize'], message]]);
    }
  });

  it('sizes the ViT position embedding from the patch grid, dropping pixels past the last whole patch', () => {
    // 50 px with the default patch of 6: an 8x8 grid (48 px used) + the CLS token.
    const model = buildBackboneModel(tf, modelConfigSchema.parse({ backbone: 'vit_tiny', imageSize: 50, imageChannels: 3, backboneWidth: 0.0625, backboneDepth: 0.1 }));
    const pos = model.getLayer('image_vit_pos_embed');
    expect(pos.getWeights()[0]!.shape).toEqual([1, 65, 12]);
    expect(model.getLayer('image_vit_patch_embed').getWeights()[0]!.shape).toEqual([6, 6, 3, 12]);
    expect(model.outputs[0]!.shape).toEqual([null, 12]);
    model.dispose();
  });

  it('scales widths like MobileNet (multiples of 8, never 10% below) and depths to at least one block', () => {
    expect(scaledWidth(32, 1, 8)).toBe(32);
    expect(scaledWidth(32, 0.25, 8)).toBe(8);
    expect(scaledWidth(24, 0.35, 8)).toBe(8);
    expect(scaledWidth(96, 0.35, 8)).toBe(32); // 33.6 -> 32 (within 10%)
    expect(scaledWidth(1280, 1.4, 8)).toBe(1792);
    expect(scaledWidth(64, 0.25)).toBe(16);
    expect(scaledDepth(24, 0.1)).toBe(2);
    expect(scaledDepth(2, 0.1)).toBe(1);
    expect(scaledDepth(3, 2)).toBe(6);
  });

  it('keeps the paper stem from 128 px and shrinks it for small inputs', () => {
    expect([32, 48, 63, 64, 127, 128, 224].map(stemReduction)).toEqual([1, 1, 1, 2, 2, 4, 4]);
    expect([32, 48, 64, 224, 512].map((s) => vitPatchSize(s))).toEqual([4, 6, 8, 16, 16]);
    expect(vitPatchSize(32, 8)).toBe(8);
    expect(() => vitPatchSize(32, 40)).toThrow(/patchSize 40 is larger than modelConfig.imageSize 32/);
  });

  it('reduces a 32 px image to a 4x4 map at the last ResNet stage, and 224 px to 7x7', () => {
    for (const [imageSize, side] of [[32, 4], [224, 7]] as const) {
      const model = buildBackboneModel(tf, modelConfigSchema.parse({ backbone: 'resnet18', imageSize, backboneWidth: 0.0625, backboneDepth: 0.1 }));
      const last = model.layers.filter((l) => l.name.endsWith('_out')).at(-1)!;
      expect(last.outputShape).toEqual([null, side, side, 32]);
      model.dispose();
    }
  });
});
