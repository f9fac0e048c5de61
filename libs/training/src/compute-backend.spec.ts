import * as tf from '@tensorflow/tfjs';
import { selectComputeBackend } from './compute-backend.js';

describe('selectComputeBackend', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('picks onnx-cpu when the native TF.js bindings do not load, with the thread count in its label', async () => {
    const b = await selectComputeBackend('auto', { threads: 2 });
    if (b.name === 'tensorflow-gpu' || b.name === 'tensorflow') return; // a machine where tfjs-node installed
    expect(b.name).toBe('onnx-cpu');
    expect(b.threads).toBe(2);
    expect(b.label).toBe('onnx-cpu (2 threads)');
    expect(b.skipped.map((s) => s.name)).toEqual(['tensorflow-gpu', 'tensorflow']);
    expect(b.skipped.every((s) => s.reason.length > 0)).toBe(true);
    expect(tf.getBackend()).toBe('onnx-cpu');
  });

  it('falls back to the pure-JS cpu backend with the reason when the fast path cannot load', async () => {
    const b = await selectComputeBackend('onnx-cpu', {
      threads: 1,
      registerFastPath: () => {
        throw new Error("onnxruntime-node's native binding does not load: test");
      },
    });
    expect(b.name).toBe('cpu');
    expect(b.label).toBe('cpu');
    expect(b.skipped).toEqual([{ name: 'onnx-cpu', reason: "onnxruntime-node's native binding does not load: test" }]);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('keeps the pure-JS backend when asked for it (COMPUTE_BACKEND=cpu)', async () => {
    const b = await selectComputeBackend('cpu', { threads: 4 });
    expect(b).toMatchObject({ name: 'cpu', label: 'cpu', skipped: [] });
    expect(b.threads).toBeUndefined();
    expect(tf.getBackend()).toBe('cpu');
  });

  it('labels one thread in the singular', async () => {
    const b = await selectComputeBackend('onnx-cpu', { threads: 1 });
    expect(b.label).toBe('onnx-cpu (1 thread)');
  });
});
