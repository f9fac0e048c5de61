import { hashSeed, tuningRng } from './tuning-rng.js';

describe('tuningRng', () => {
  it('repeats a stream for the same parts and differs when any part changes', () => {
    const draw = (...parts: number[]) => Array.from({ length: 6 }, tuningRng(...parts).next);
    expect(draw(7, 3, 1)).toEqual(draw(7, 3, 1));
    expect(draw(7, 3, 1)).not.toEqual(draw(7, 4, 1));
    expect(draw(7, 3, 1)).not.toEqual(draw(8, 3, 1));
    expect(draw(7, 3, 1)).not.toEqual(draw(7, 3, 2));
  });

  it('draws uniform values with the right moments and standard normals', () => {
    const rng = tuningRng(1);
    const u = Array.from({ length: 20_000 }, rng.next);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    const mean = u.reduce((s, x) => s + x, 0) / u.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    const z = Array.from({ length: 20_000 }, rng.normal);
    const zm = z.reduce((s, x) => s + x, 0) / z.length;
    const sd = Math.sqrt(z.reduce((s, x) => s + (x - zm) ** 2, 0) / z.length);
    expect(Math.abs(zm)).toBeLessThan(0.03);
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
  });

  it('gives each integer in [0, n) about equally often', () => {
    const rng = tuningRng(5);
    const counts = [0, 0, 0, 0, 0];
    for (let i = 0; i < 10_000; i++) counts[rng.int(5)]!++;
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(150);
  });

  it('hashes neighbouring seeds far apart and folds values above 32 bits in', () => {
    expect(hashSeed(1, 2)).not.toBe(hashSeed(2, 1));
    expect(hashSeed(2 ** 32 + 5)).not.toBe(hashSeed(5));
    const firsts = new Set(Array.from({ length: 1000 }, (_, i) => Math.floor(tuningRng(i).next() * 1000)));
    expect(firsts.size).toBeGreaterThan(550);
  });
});
