import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, NamedAttrMap, Tensor, Tensor4D } from '@tensorflow/tfjs';
import { RELU_GRAD_KERNEL } from './kernels/addon-kernels.js';

type FusedConv2dArgs = Parameters<typeof tf.fused.conv2d>[0];

/** FusedConv2D with a gradient (onnx-cpu only): inputs x, filter, bias?; the attributes of FusedConv2D. */
export const FUSED_CONV_TRAINING_KERNEL = 'MedfusionFusedConv2D';

/**
 * tfjs-layers builds every Conv2D layer with tf.fused.conv2d({ bias, activation: 'relu' }), but
 * TF.js fuses only outside gradient recording: while training it runs Conv2D, then Add (bias),
 * then Relu, three passes over the layer's output. On onnx-cpu, a relu- or linear-activated
 * fused NHWC convolution with dilation 1 runs as one fused kernel while training too, with this
 * gradient: dz = dy * step(y) (step(relu(x)) equals step(x), NaN included), then the input and
 * filter gradients of dz and the bias gradient sum(dz) over batch and pixels: the kernels the
 * unfused ops' gradients run, in the same order. Each input's gradient is computed only when
 * the tape needs it (not the image's). Other backends and arguments keep TF.js's function.
 */
export function installFusedConvTraining(backendName: string): void {
  const fused = tf.fused as unknown as { conv2d: ((args: FusedConv2dArgs) => Tensor) & { medfusionTraining?: boolean } };
  if (fused.conv2d.medfusionTraining) return;
  const original = fused.conv2d;
  tf.registerGradient({
    kernelName: FUSED_CONV_TRAINING_KERNEL,
    inputsToSave: ['x', 'filter'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs: NamedAttrMap) => {
      const [x, filter, y] = saved as [Tensor4D, Tensor4D, Tensor4D];
      const conv = { strides: attrs.strides, pad: attrs.pad, dataFormat: 'NHWC', dimRoundingMode: attrs.dimRoundingMode } as NamedAttrMap;
      // Once for all inputs' gradients (each runs in a tidy of its own, so it is made out here;
      // the tape only lists inputs whose gradient is needed, so it is never computed for nothing).
      const dz = attrs.activation === 'relu' ? (tf.engine().runKernel(RELU_GRAD_KERNEL, { a: dy as Tensor, b: y }) as Tensor4D) : (dy as Tensor4D);
      return {
        x: () => tf.engine().runKernel('Conv2DBackpropInput', { dy: dz, filter }, { ...conv, inputShape: x.shape }) as Tensor,
        filter: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: dz }, { ...conv, filterShape: filter.shape }) as Tensor,
        bias: () => tf.sum(dz, [0, 1, 2]),
      };
    },
  });
  const patched = (args: FusedConv2dArgs): Tensor => {
    const { x, filter, bias, activation = 'linear', preluActivationWeights, strides, pad, dimRoundingMode } = args;
    const dilations = args.dilations ?? [1, 1];
    const applies =
      tf.getBackend() === backendName &&
      tf.engine().state.gradientDepth > 0 &&
      (activation === 'relu' || activation === 'linear') &&
      !preluActivationWeights &&
      (args.dataFormat ?? 'NHWC') === 'NHWC' &&
      (dilations === 1 || (Array.isArray(dilations) && dilations.every((d) => d === 1))) &&
      x instanceof tf.Tensor && x.rank === 4 && x.dtype === 'float32' &&
      filter instanceof tf.Tensor && filter.rank === 4 && filter.dtype === 'float32' &&
      (bias == null || (bias instanceof tf.Tensor && bias.rank === 1 && bias.dtype === 'float32'));
    if (!applies) return original(args);
    const attrs = { strides, pad, dataFormat: 'NHWC', dilations: [1, 1], activation, ...(dimRoundingMode ? { dimRoundingMode } : {}) } as NamedAttrMap;
    const inputs: tf.NamedTensorMap = bias ? { x, filter, bias: bias as Tensor } : { x, filter };
    return tf.engine().runKernel(FUSED_CONV_TRAINING_KERNEL, inputs, attrs) as Tensor;
  };
  fused.conv2d = Object.assign(patched, { medfusionTraining: true });
}

/** The forward kernel: onnx-cpu's own FusedConv2D. */
export function fusedConvTrainingKernel(backendName: string): KernelFunc {
  return (args) => {
    const kernel = tf.getKernel('FusedConv2D', backendName);
    if (!kernel) throw new Error(`${backendName} has no FusedConv2D kernel`);
    return kernel.kernelFunc(args);
  };
}
