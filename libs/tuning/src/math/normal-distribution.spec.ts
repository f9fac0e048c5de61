import { erfc, logNormalMass, logSumExp, normalCdf, normalQuantile, truncatedStandardNormal } from './normal-distribution.js';

describe('normal distribution helpers', () => {
  it('matches tabulated values of erfc and Phi, including deep tails', () => {
    expect(erfc(0)).toBeCloseTo(1, 7);
    expect(erfc(1)).toBeCloseTo(0.157299207050285, 7);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 7);
    // Phi(-10) = 7.619853024160527e-24: relative accuracy in the tail.
    expect(Math.abs(normalCdf(-10) / 7.619853024160527e-24 - 1)).toBeLessThan(1e-6);
  });

  it('inverts the CDF across the range', () => {
    for (const p of [1e-12, 1e-5, 0.01, 0.3, 0.5, 0.77, 0.999, 1 - 1e-9]) {
      expect(Math.abs(normalCdf(normalQuantile(p)) / p - 1)).toBeLessThan(1e-6);
    }
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 6);
  });

  it('computes log-masses of intervals in either tail without cancellation', () => {
    expect(logNormalMass(-1, 1)).toBeCloseTo(Math.log(0.682689492137086), 6);
    // Phi(-8) - Phi(-9) = 6.220960574271785e-16 - 1.128588405953e-19, and its mirror image.
    expect(logNormalMass(8, 9)).toBeCloseTo(Math.log(6.220960574271785e-16 - 1.128588405953e-19), 5);
    expect(logNormalMass(-9, -8)).toBeCloseTo(logNormalMass(8, 9), 9);
  });

  it('draws truncated normals inside their interval with the right mean', () => {
    let sum = 0;
    const n = 4000;
    for (let i = 0; i < n; i++) {
      const x = truncatedStandardNormal(0, Infinity, (i + 0.5) / n);
      expect(x).toBeGreaterThanOrEqual(0);
      sum += x;
    }
    // Mean of the half-normal: sqrt(2 / pi).
    expect(sum / n).toBeCloseTo(Math.sqrt(2 / Math.PI), 2);
    for (const u of [0, 0.3, 0.999]) {
      const x = truncatedStandardNormal(5, 6, u);
      expect(x).toBeGreaterThanOrEqual(5);
      expect(x).toBeLessThanOrEqual(6);
    }
  });

  it('sums exponentials in log space', () => {
    expect(logSumExp([Math.log(1), Math.log(3)])).toBeCloseTo(Math.log(4), 12);
    expect(logSumExp([1000, 1000])).toBeCloseTo(1000 + Math.log(2), 9);
    expect(logSumExp([])).toBe(-Infinity);
  });
});
