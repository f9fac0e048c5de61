import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** dst[offset + i] = (dst[offset + i] + src[i]) / divisor, the sum in double and rounded once (divisor 1: a plain add). */
export type ReduceAdd = (dst: Float32Array, offset: number, src: Float32Array, divisor: number) => void;

// Same place from src (Jest) and dist (built code): the package's dist/native.
const ADDON_PATH = fileURLToPath(new URL('../dist/native/reduce_add.node', import.meta.url));

/** The JS loops, the reference the addon mirrors bit for bit; small and monomorphic so V8 optimises them. */
export const jsReduceAdd: ReduceAdd = (dst, offset, src, divisor) => {
  const n = src.length;
  if (divisor === 1) for (let i = 0; i < n; i++) dst[offset + i] += src[i]!;
  else for (let i = 0; i < n; i++) dst[offset + i] = (dst[offset + i]! + src[i]!) / divisor;
};

/** The C++ reduction (addon/reduce_add.cc) when it was built and loads, else why not. */
export function loadReduceAddon(): { add: ReduceAdd } | { reason: string } {
  if (!existsSync(ADDON_PATH)) return { reason: `${ADDON_PATH} is missing (npm run build compiles it with the system C++ compiler)` };
  try {
    const addon = createRequire(import.meta.url)(ADDON_PATH) as { add?: ReduceAdd };
    if (typeof addon.add !== 'function') throw new Error('unexpected exports (rebuild it)');
    return { add: addon.add };
  } catch (err) {
    return { reason: `${ADDON_PATH} does not load: ${(err as Error).message.split('\n')[0]}` };
  }
}

const loaded = loadReduceAddon();
/** What the ring adds with: the addon when available, else the JS loops (same results). */
export const reduceAdd: ReduceAdd = 'add' in loaded ? loaded.add : jsReduceAdd;
export const reduceKernel = 'add' in loaded ? 'native' : `js (${loaded.reason})`;
