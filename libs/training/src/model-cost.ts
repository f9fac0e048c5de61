import type { LayersModel, Shape } from '@tensorflow/tfjs';
import { RecomputeBlock } from './recompute.js';

type Layer = LayersModel['layers'][number];
type LayerNode = Layer['inboundNodes'][number];

export interface LayerCost {
  name: string;
  className: string;
  /** Forward FLOPs for one example, summed over every call of the layer in the model. */
  flops: number;
}

export interface ModelCost {
  /** Every weight, batch-norm moving statistics included (TF.js's countParams). */
  params: number;
  /** Trainable weights only: the figure papers and PyTorch report. */
  trainableParams: number;
  /** Forward FLOPs for one example: 2 per multiply-add of convolutions, dense layers and attention. */
  flops: number;
  /** The layers that cost anything, in model order. */
  layers: LayerCost[];
}

/**
 * Counts a built model's parameters and forward FLOPs per example. The convention is the usual one
 * (fvcore, thop, the papers' tables): a multiply-add is 2 FLOPs, and only convolutions (dense,
 * depthwise, separable), dense layers and attention matrix products are counted; batch norm,
 * activations, pooling, additions and softmax are left out (a few percent of the total in the
 * models here). Shapes are read from each layer's call nodes, so a layer used twice counts twice.
 */
export function modelCost(model: LayersModel): ModelCost {
  const layers: LayerCost[] = [];
  const count = (layer: Layer, calls: number) => {
    const flops = calls * layer.inboundNodes.reduce((sum, node) => sum + nodeFlops(layer, node), 0);
    if (flops > 0) layers.push({ name: layer.name, className: layer.getClassName(), flops });
  };
  for (const layer of model.layers) {
    // A recomputed block's layers keep the one call node they were built with; they run once
    // per call of the block (the backward pass's re-run is not forward cost).
    if (layer instanceof RecomputeBlock) for (const inner of layer.inner) count(inner, layer.inboundNodes.length);
    else count(layer, 1);
  }
  const trainableParams = model.trainableWeights.reduce((n, w) => n + volume([null, ...w.shape]), 0);
  return { params: model.countParams(), trainableParams, flops: layers.reduce((s, l) => s + l.flops, 0), layers };
}

function shapesOf(s: Shape | Shape[]): Shape[] {
  return Array.isArray(s[0]) ? (s as Shape[]) : [s as Shape];
}

/** Product of the known dimensions after the batch axis, from `from` to `to` (exclusive). */
function volume(shape: Shape, from = 1, to = shape.length): number {
  let v = 1;
  for (let i = from; i < to; i++) {
    const d = shape[i];
    if (typeof d !== 'number') throw new Error(`cannot count FLOPs for a dynamic dimension ${i} of shape [${shape.join(', ')}]`);
    v *= d;
  }
  return v;
}

function last(shape: Shape): number {
  return volume(shape, shape.length - 1);
}

function kernelArea(config: Record<string, unknown>, layer: Layer): number {
  const k = config['kernelSize'];
  const dims = Array.isArray(k) ? (k as number[]) : [k as number];
  if (dims.some((d) => typeof d !== 'number')) throw new Error(`layer ${layer.name}: unreadable kernelSize ${JSON.stringify(k)}`);
  return dims.reduce((a, b) => a * b, 1);
}

function nodeFlops(layer: Layer, node: LayerNode): number {
  const input = shapesOf(node.inputShapes);
  const output = shapesOf(node.outputShapes)[0]!;
  const config = layer.getConfig() as Record<string, unknown>;
  if (config['dataFormat'] === 'channelsFirst') throw new Error(`layer ${layer.name}: FLOP counting assumes channels-last data`);
  const inC = last(input[0]!);
  const outPositions = volume(output, 1, output.length - 1);
  switch (layer.getClassName()) {
    case 'Conv1D':
    case 'Conv2D':
    case 'Conv3D':
      return 2 * outPositions * last(output) * kernelArea(config, layer) * inC;
    case 'DepthwiseConv2D':
      return 2 * outPositions * last(output) * kernelArea(config, layer);
    case 'SeparableConv2D': {
      const mid = inC * ((config['depthMultiplier'] as number | undefined) ?? 1);
      return 2 * outPositions * (mid * kernelArea(config, layer) + mid * last(output));
    }
    case 'Dense':
      return 2 * volume(input[0]!, 1, input[0]!.length - 1) * inC * last(output);
    case 'MedFusionMultiHeadAttention': {
      // Q and output projections over the queries, K and V over the keys/values, then Q K^T and
      // the attention-weighted sum of V (each Nq x Nk x D multiply-adds over all heads together).
      const d = config['units'] as number;
      const nq = volume(input[0]!, 1, 2);
      const nk = volume((input[1] ?? input[0])!, 1, 2);
      return 2 * (2 * nq * d * d + 2 * nk * d * d + 2 * nq * nk * d);
    }
    default:
      return 0;
  }
}
