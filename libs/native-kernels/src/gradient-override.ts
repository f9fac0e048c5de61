import * as tf from '@tensorflow/tfjs';
import type { NamedAttrMap, Tensor } from '@tensorflow/tfjs';

/** A gradient function for one backend; undefined hands the call to TF.js's own gradient. */
export type FastGradient = (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => Record<string, () => Tensor> | undefined;

/**
 * Replaces TF.js's gradient of `kernelName` by `fast` while `backendName` is the active backend.
 * Gradients are registered globally in TF.js, so every other backend, and every call `fast`
 * declines, keeps the original function; it saves the same tensors as the original. Installing
 * twice is a no-op. TF.js prints a one-time "Overriding the gradient" warning.
 */
export function overrideGradient(kernelName: string, backendName: string, fast: FastGradient): void {
  const original = tf.getGradient(kernelName);
  if (!original || (original as { medfusionFast?: boolean }).medfusionFast) return;
  tf.registerGradient({
    kernelName,
    inputsToSave: original.inputsToSave,
    outputsToSave: original.outputsToSave,
    medfusionFast: true,
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) =>
      (tf.getBackend() === backendName && !Array.isArray(dy) ? fast(dy, saved, attrs) : undefined) ?? original.gradFunc(dy, saved, attrs),
  } as tf.GradConfig);
}
