import { scaledWidth, type BackboneBuilder } from './backbone-context.js';
import { invertedResidualNetwork, type InvertedResidualStage } from './inverted-residual.js';

/** The paper's table 2 (Sandler et al. 2018): expansion t, output channels c, repeats n, first stride s; all depthwise 3x3. */
const STAGES: readonly InvertedResidualStage[] = [
  { t: 1, k: 3, c: 16, n: 1, s: 1 },
  { t: 6, k: 3, c: 24, n: 2, s: 2 },
  { t: 6, k: 3, c: 32, n: 3, s: 2 },
  { t: 6, k: 3, c: 64, n: 4, s: 2 },
  { t: 6, k: 3, c: 96, n: 3, s: 1 },
  { t: 6, k: 3, c: 160, n: 3, s: 2 },
  { t: 6, k: 3, c: 320, n: 1, s: 1 },
];

/**
 * MobileNetV2: inverted residuals with ReLU6 and linear bottlenecks, no squeeze-and-excitation;
 * the 1x1 head to 1280 channels only grows for widths above 1, as in the paper.
 */
export const mobilenetV2: BackboneBuilder = (ctx) =>
  invertedResidualNetwork(ctx, {
    prefix: 'image_mobilenetv2',
    activation: 'relu6',
    seRatio: 0,
    stages: STAGES,
    headChannels: scaledWidth(1280, Math.max(1, ctx.options.width), 8),
  });
