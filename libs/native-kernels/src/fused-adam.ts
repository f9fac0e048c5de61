import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, NamedTensorMap, Tensor, TensorInfo, Variable } from '@tensorflow/tfjs';
import type { NhwcAddon } from './addon/nhwc-addon.js';
import type { CpuBackendStorage } from './kernels/kernel-context.js';
import type { Float32Pool } from './ort/float32-pool.js';

/** The fused Adam step's kernel name (onnx-cpu only): inputs value, m, v, g, a1, a2 (1 - accBeta). */
export const ADAM_KERNEL = 'MedfusionAdam';

/**
 * TF.js's AdamOptimizer spends ~13 ops per variable per step (two moments, bias corrections, the
 * update), each a kernel call with its own engine bookkeeping: most of a small model's ~550 ops
 * per step. On onnx-cpu, applyGradients runs one kernel per variable instead, which computes the
 * same float32 values in the same order (bit for bit: see the parity test). Everything else is
 * TF.js's own: the moment variables and their names, accBeta1/accBeta2, iterations, so
 * getWeights/setWeights, checkpoints and resume are unchanged. Other backends, steps with a
 * non-float32 variable or gradient, and any other optimizer keep TF.js's code.
 */
export function installFusedAdam(backendName: string): void {
  const proto = tf.AdamOptimizer.prototype as unknown as AdamInternals & { medfusionFused?: boolean };
  if (proto.medfusionFused) return;
  const original = proto.applyGradients;
  proto.medfusionFused = true;
  proto.applyGradients = function (this: AdamInternals, variableGradients: NamedTensorMap | Array<{ name: string; tensor: Tensor }>) {
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    const gradientOf = (name: string, i: number) => (Array.isArray(variableGradients) ? variableGradients[i]!.tensor : variableGradients[name]);
    // TF.js's own step elsewhere, and for the rare step with a non-float32 variable or gradient.
    const float32 = names.every((name, i) => tf.engine().registeredVariables[name]?.dtype === 'float32' && (gradientOf(name, i)?.dtype ?? 'float32') === 'float32');
    if (tf.getBackend() !== backendName || !float32) return original.call(this, variableGradients);
    tf.tidy(() => {
      const oneMinusAccBeta1 = tf.sub(1, this.accBeta1);
      const oneMinusAccBeta2 = tf.sub(1, this.accBeta2);
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name]!;
        this.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        this.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        const gradient = gradientOf(name, i);
        if (gradient == null) return;
        const m = this.accumulatedFirstMoment[i]!.variable;
        const v = this.accumulatedSecondMoment[i]!.variable;
        const attrs = { beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, learningRate: this.learningRate };
        const inputs = { value, m, v, g: gradient, a1: oneMinusAccBeta1, a2: oneMinusAccBeta2 };
        const [newValue, newM, newV] = tf.engine().runKernel(ADAM_KERNEL, inputs, attrs) as unknown as Tensor[];
        m.assign(newM!);
        v.assign(newV!);
        value.assign(newValue!);
      });
      this.accBeta1.assign(tf.mul(this.accBeta1, this.beta1));
      this.accBeta2.assign(tf.mul(this.accBeta2, this.beta2));
    });
    this.incrementIterations();
  };
}

/** The fused Adam kernel: the addon's when it is built, else the same arithmetic in JS. */
export function adamKernel(getAddon: () => NhwcAddon | undefined, pool: Float32Pool, note: (kernelName: string) => void): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const storage = backend as unknown as CpuBackendStorage;
    const arr = (t: TensorInfo) => storage.data.get(t.dataId).values as Float32Array;
    const { value, m, v, g, a1, a2 } = inputs as Record<'value' | 'm' | 'v' | 'g' | 'a1' | 'a2', TensorInfo>;
    const { beta1, beta2, epsilon, learningRate } = attrs as Record<'beta1' | 'beta2' | 'epsilon' | 'learningRate', number>;
    const n = arr(value).length;
    const out = [pool.alloc(n), pool.alloc(n), pool.alloc(n)] as const;
    note(ADAM_KERNEL);
    const addon = getAddon();
    if (addon) {
      addon.adam(arr(value), arr(m), arr(v), arr(g), arr(a1), arr(a2), beta1, 1 - beta1, beta2, 1 - beta2, epsilon, -learningRate, ...out);
    } else {
      const f = Math.fround;
      const [b1, omb1, b2, omb2, eps, neglr] = [f(beta1), f(1 - beta1), f(beta2), f(1 - beta2), f(epsilon), f(-learningRate)];
      const [x, mm, vv, gg] = [arr(value), arr(m), arr(v), arr(g)];
      const [omab1, omab2] = [arr(a1)[0]!, arr(a2)[0]!];
      for (let i = 0; i < n; i++) {
        const gi = gg[i]!;
        const newM = f(f(mm[i]! * b1) + f(gi * omb1));
        const newV = f(f(vv[i]! * b2) + f(f(gi * gi) * omb2));
        const step = f(f(newM / omab1) / f(f(Math.sqrt(f(newV / omab2))) + eps));
        out[0][i] = f(step * neglr) + x[i]!;
        out[1][i] = newM;
        out[2][i] = newV;
      }
    }
    return out.map((values) => storage.makeTensorInfo([...value.shape], 'float32', values));
  };
}

/** The parts of TF.js's AdamOptimizer (not all public) that applyGradients uses. */
interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: Variable;
  accBeta2: Variable;
  accumulatedFirstMoment: Array<{ originalName: string; variable: Variable }>;
  accumulatedSecondMoment: Array<{ originalName: string; variable: Variable }>;
  applyGradients(variableGradients: NamedTensorMap | Array<{ name: string; tensor: Tensor }>): void;
  incrementIterations(): void;
}
