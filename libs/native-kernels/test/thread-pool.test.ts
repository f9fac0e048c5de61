import { loadNhwcAddon, type NhwcAddon } from '../src/addon/nhwc-addon.js';

/**
 * How the addon's pool (addon/thread_pool.h) hands out the tasks of one parallel_for: each task
 * exactly once, whatever the thread count; worker w runs its own contiguous share from the front
 * and other threads take from the back of it, so a thread mostly touches the rows it wrote in the
 * kernel before (the cache locality that made a 2-thread training step ~1.6x -> ~1.85x one thread).
 */
function addon(): NhwcAddon {
  const loaded = loadNhwcAddon();
  if (!('addon' in loaded)) throw new Error(`the C++ addon is needed here (npm run build): ${loaded.reason}`);
  return loaded.addon;
}

function trace(threads: number, tasks: number, workNs: number): { worker: Int32Array; order: Int32Array } {
  const a = addon();
  a.setThreads(threads);
  const worker = new Int32Array(tasks).fill(-1);
  const order = new Int32Array(tasks);
  try {
    a.poolTrace(workNs, worker, order);
  } finally {
    a.setThreads(1);
  }
  return { worker, order };
}

describe('the addon thread pool', () => {
  it.each([1, 2, 3])('runs every task exactly once on %i thread(s)', (threads) => {
    for (const tasks of [1, 2, 3, 5, 64, 1001]) {
      const { worker, order } = trace(threads, tasks, 2_000);
      expect([...order].sort((x, y) => x - y)).toEqual(Array.from({ length: tasks }, (_, i) => i));
      expect([...worker].every((w) => w >= 0 && w < threads)).toBe(true);
    }
  });

  it('runs tasks in order on one thread', () => {
    const { worker, order } = trace(1, 50, 0);
    expect([...order]).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect([...worker].every((w) => w === 0)).toBe(true);
  });

  it.each([2, 3])('on %i threads, each share runs front-first by its owner and back-first by the others', (threads) => {
    const tasks = 97;
    for (let round = 0; round < 5; round++) {
      const { worker, order } = trace(threads, tasks, 20_000);
      for (let w = 0; w < threads; w++) {
        const lo = Math.floor((tasks * w) / threads);
        const hi = Math.floor((tasks * (w + 1)) / threads);
        const owner: number[] = [];
        const others: number[] = [];
        for (let t = lo; t < hi; t++) (worker[t] === w ? owner : others).push(t);
        // The owner's tasks are a prefix of its share, started in ascending order ...
        expect(owner).toEqual(Array.from({ length: owner.length }, (_, i) => lo + i));
        expect(owner.map((t) => order[t]!)).toEqual(owner.map((t) => order[t]!).sort((x, y) => x - y));
        // ... and the rest a suffix, taken from the back: in descending start order where one
        // other thread is the only taker (with two takers, one may start a task it took later).
        expect(others).toEqual(Array.from({ length: others.length }, (_, i) => hi - others.length + i));
        if (threads === 2) {
          const started = others.map((t) => order[t]!);
          expect(started).toEqual([...started].sort((x, y) => y - x));
        }
      }
    }
  });
});
