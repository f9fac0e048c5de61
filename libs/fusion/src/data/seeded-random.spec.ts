import { mixSeed, seededRandom } from './seeded-random.js';

describe('seededRandom', () => {
  it('repeats its sequence for a seed and differs between seeds', () => {
    const draw = (seed: number) => Array.from({ length: 5 }, seededRandom(seed).next);
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
  });

  it('draws uniforms in range and standard normals with mean 0 and SD 1', () => {
    const rng = seededRandom(1);
    const u = Array.from({ length: 20_000 }, () => rng.uniform(2, 3));
    expect(Math.min(...u)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...u)).toBeLessThan(3);
    const z = Array.from({ length: 20_000 }, rng.normal);
    const mean = z.reduce((a, b) => a + b, 0) / z.length;
    const sd = Math.sqrt(z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
    expect(z.every(Number.isFinite)).toBe(true);
  });

  it('shuffles 0..n-1 into a permutation', () => {
    const p = seededRandom(3).permutation(50);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect([...p]).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('mixSeed', () => {
  it('is stable and sensitive to order', () => {
    expect(mixSeed(7, 1)).toBe(mixSeed(7, 1));
    expect(mixSeed(7, 1)).not.toBe(mixSeed(1, 7));
    expect(mixSeed(7, 1)).not.toBe(mixSeed(7, 2));
  });
});
