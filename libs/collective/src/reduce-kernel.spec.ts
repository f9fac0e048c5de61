import { jsReduceAdd, loadReduceAddon } from './reduce-kernel.js';

/**
 * The reduction addon must give the JS loops' exact bytes (ranks with and without it then agree);
 * `npm run build` compiles it, and the test says so when it is missing rather than passing quietly.
 */
describe('ring reduction kernel', () => {
  const loaded = loadReduceAddon();

  function random(n: number, seed: number, scale: number): Float32Array {
    let s = seed >>> 0;
    return Float32Array.from({ length: n }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      // Mixed magnitudes, signs and exponents, so rounding cases come up.
      return ((s / 2 ** 32) * 2 - 1) * scale * 10 ** ((s % 13) - 6);
    });
  }

  it('is built here (npm run build compiles addon/reduce_add.cc)', () => {
    expect('reason' in loaded ? loaded.reason : 'built').toBe('built');
  });

  it.each([1, 2, 3, 4, 7])('adds and divides by %i exactly as the JS loops do, at an offset', (divisor) => {
    if (!('add' in loaded)) throw new Error(loaded.reason);
    const src = random(10_007, divisor, 100);
    const a = random(20_000, 99, 1000);
    const b = a.slice();
    jsReduceAdd(a, 5_000, src, divisor);
    loaded.add(b, 5_000, src, divisor);
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    expect(b[4_999]).toBe(random(20_000, 99, 1000)[4_999]); // nothing outside the span changes
  });

  it('refuses a span that does not fit', () => {
    if (!('add' in loaded)) throw new Error(loaded.reason);
    expect(() => loaded.add(new Float32Array(10), 5, new Float32Array(6), 1)).toThrow(/does not fit/);
  });
});
