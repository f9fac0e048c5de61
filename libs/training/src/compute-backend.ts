import * as tfjs from '@tensorflow/tfjs';

export type Tf = typeof tfjs;

/** Compute backends in order of preference; the first that loads is used. */
export const COMPUTE_BACKENDS = ['tensorflow-gpu', 'tensorflow', 'cpu'] as const;
export type ComputeBackendName = (typeof COMPUTE_BACKENDS)[number];

export interface ComputeBackend {
  tf: Tf;
  name: ComputeBackendName;
  /** Why the better backends were not used, for the job record and the log. */
  skipped: Array<{ name: ComputeBackendName; reason: string }>;
}

/**
 * Picks the best TF.js backend that loads here: the CUDA binding (tfjs-node-gpu) on GPU nodes,
 * the native CPU binding (tfjs-node), else the pure-JS `cpu` backend. The native packages are
 * optional dependencies because their install downloads libtensorflow, which fails offline.
 */
export async function selectComputeBackend(preferred: ComputeBackendName | 'auto' = 'auto'): Promise<ComputeBackend> {
  const skipped: ComputeBackend['skipped'] = [];
  const candidates = preferred === 'auto' ? COMPUTE_BACKENDS : COMPUTE_BACKENDS.slice(COMPUTE_BACKENDS.indexOf(preferred));
  for (const name of candidates) {
    try {
      if (name === 'tensorflow-gpu' || name === 'tensorflow') {
        const pkg = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
        const tf = (await import(pkg)) as Tf;
        await tf.setBackend('tensorflow');
        await tf.ready();
        return { tf, name, skipped };
      }
      await tfjs.setBackend('cpu');
      await tfjs.ready();
      return { tf: tfjs, name, skipped };
    } catch (err) {
      skipped.push({ name, reason: (err as Error).message.split('\n')[0] ?? 'failed to load' });
    }
  }
  throw new Error(`no TF.js backend loads here: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}
