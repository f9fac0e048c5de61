import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, NamedAttrMap, Tensor, Tensor4D, TensorInfo } from '@tensorflow/tfjs';
import { RELU_GRAD_BIAS_KERNEL, RELU_GRAD_KERNEL } from './kernels/addon-kernels.js';
import { CONV_FILTER_RELU_BIAS_KERNEL, oneChannel3x3 } from './kernels/gemm-kernels.js';

type FusedConv2dArgs = Parameters<typeof tf.fused.conv2d>[0];

/** FusedConv2D with a gradient (onnx-cpu only): inputs x, filter, bias?; the attributes of FusedConv2D. */
export const FUSED_CONV_TRAINING_KERNEL = 'MedfusionFusedConv2D';

/**
 * tfjs-layers builds every Conv2D layer with tf.fused.conv2d({ bias, activation: 'relu' }), but
 * TF.js fuses only outside gradient recording: while training it runs Conv2D, then Add (bias),
 * then Relu, three passes over the layer's output. On onnx-cpu, a relu- or linear-activated
 * fused NHWC convolution with dilation 1 runs as one fused kernel while training too, with this
 * gradient: dz = dy * step(y) (step(relu(x)) equals step(x), NaN included), then the input and
 * filter gradients of dz and the bias gradient sum(dz) over batch and pixels, the values the
 * unfused ops' gradients give. Each input's gradient is computed only when the tape needs it.
 * The relu gradient and the bias sum are one pass (ReluGradBias); on a 3x3 filter over one
 * channel (the first layer, whose input is the image and needs no gradient) dz is not stored at
 * all: the filter and bias gradients read dy and y (ConvFilterReluBias), and only an input
 * gradient, if asked for, forms dz. Other backends and arguments keep TF.js's function.
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
      const backpropInput = (dz: Tensor) => tf.engine().runKernel('Conv2DBackpropInput', { dy: dz, filter }, { ...conv, inputShape: x.shape }) as Tensor;
      const backpropFilter = (dz: Tensor) => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: dz }, { ...conv, filterShape: filter.shape }) as Tensor;
      if (attrs.activation !== 'relu') return { x: () => backpropInput(dy as Tensor), filter: () => backpropFilter(dy as Tensor), bias: () => tf.sum(dy as Tensor, [0, 1, 2]) };
      // Made out here, once for all inputs' gradients (each of those runs in a tidy of its own).
      if (oneChannel3x3(filter.shape)) {
        const [dw, db] = tf.engine().runKernel(CONV_FILTER_RELU_BIAS_KERNEL, { x, dy: dy as Tensor, y }, { ...conv, filterShape: filter.shape }) as Tensor[];
        return { x: () => backpropInput(tf.engine().runKernel(RELU_GRAD_KERNEL, { a: dy as Tensor, b: y }) as Tensor), filter: () => dw!, bias: () => db! };
      }
      const [dz, db] = tf.engine().runKernel(RELU_GRAD_BIAS_KERNEL, { dy: dy as Tensor, y }) as Tensor[];
      return { x: () => backpropInput(dz!), filter: () => backpropFilter(dz!), bias: () => db! };
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

/** A kernel of `backendName`, looked up when called (kernels registered later are found). */
function backendKernel(name: string, backendName: string): KernelFunc {
  const kernel = tf.getKernel(name, backendName);
  if (!kernel) throw new Error(`${backendName} has no ${name} kernel`);
  return kernel.kernelFunc;
}

/** The forward kernel: onnx-cpu's own FusedConv2D. */
export function fusedConvTrainingKernel(backendName: string): KernelFunc {
  return (args) => backendKernel('FusedConv2D', backendName)(args);
}

/** ConvFilterReluBias where the addon does not take it: ReluGradBias, then the filter gradient of dz. */
export function convFilterReluBiasComposed(backendName: string): KernelFunc {
  return ({ inputs, attrs, backend }) => {
    const { x, dy, y } = inputs as { x: TensorInfo; dy: TensorInfo; y: TensorInfo };
    const [dz, db] = backendKernel(RELU_GRAD_BIAS_KERNEL, backendName)({ inputs: { dy, y }, attrs: {}, backend }) as TensorInfo[];
    const dw = backendKernel('Conv2DBackpropFilter', backendName)({ inputs: { x, dy: dz! }, attrs, backend }) as TensorInfo;
    (backend as unknown as { disposeIntermediateTensorInfo(t: TensorInfo): void }).disposeIntermediateTensorInfo(dz!);
    return [dw, db!];
  };
}
