import { scaledWidth, type BackboneBuilder } from './backbone-context.js';
import { invertedResidualNetwork, type InvertedResidualStage } from './inverted-residual.js';

/** EfficientNet-B0's stage table (Tan & Le 2019, table 1): expansion, kernel, first stride, channels, repeats. */
const STAGES: readonly InvertedResidualStage[] = [
  { t: 1, k: 3, s: 1, c: 16, n: 1 },
  { t: 6, k: 3, s: 2, c: 24, n: 2 },
  { t: 6, k: 5, s: 2, c: 40, n: 2 },
  { t: 6, k: 3, s: 2, c: 80, n: 3 },
  { t: 6, k: 5, s: 1, c: 112, n: 3 },
  { t: 6, k: 5, s: 2, c: 192, n: 4 },
  { t: 6, k: 3, s: 1, c: 320, n: 1 },
];

/**
 * EfficientNet-B0: MBConv blocks (inverted residuals with swish and squeeze-and-excitation at 0.25
 * of each block's input channels), 1x1 head to 1280 x width. The paper's stochastic depth
 * (drop-connect 0.2) is left out: it needs a training-only random layer, and the small data sets
 * here are regularised by `dropout` in the fusion head instead.
 */
export const efficientNetB0: BackboneBuilder = (ctx) =>
  invertedResidualNetwork(ctx, {
    prefix: 'image_efficientnet',
    activation: 'swish',
    seRatio: 0.25,
    stages: STAGES,
    headChannels: scaledWidth(1280, ctx.options.width, 8),
  });
