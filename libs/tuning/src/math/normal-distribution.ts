/**
 * Standard normal functions for the Parzen estimators and CMA-ES: CDF, quantile, truncated
 * sampling and log-masses that stay accurate in both tails (the estimators evaluate kernels far
 * from their centres, where 1 - Phi(x) would round to 0).
 */
const { exp, log, sqrt, abs, max, min, PI } = Math;
const SQRT2 = sqrt(2);
const LOG_SQRT_2PI = 0.5 * log(2 * PI);

/** Complementary error function; relative error below 1.2e-7 everywhere (Chebyshev fit). */
export function erfc(x: number): number {
  const z = abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Phi(x), relatively accurate in the lower tail. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / SQRT2);
}

export function normalLogPdf(x: number): number {
  return -0.5 * x * x - LOG_SQRT_2PI;
}

/** Quantile of the standard normal (Acklam's rational fit plus one Halley step). */
export function normalQuantile(p: number): number {
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const pLow = 0.02425;
  let x: number;
  if (p < pLow) {
    const q = sqrt(-2 * log(p));
    x = (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  } else if (p <= 1 - pLow) {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
  } else {
    const q = sqrt(-2 * log(1 - p));
    x = -(((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  // Halley refinement against the tail-accurate CDF.
  const e = normalCdf(x) - p;
  const u = e * sqrt(2 * PI) * exp(0.5 * x * x);
  if (Number.isFinite(u)) x = x - u / (1 + 0.5 * x * u);
  return x;
}

/**
 * log(Phi(b) - Phi(a)) for a <= b, computed on the side of the mean where both CDF values are
 * small, so two numbers close to 1 are never subtracted.
 */
export function logNormalMass(a: number, b: number): number {
  if (a > 0) return logNormalMass(-b, -a);
  const mass = normalCdf(b) - normalCdf(a);
  return mass > 0 ? log(mass) : -Infinity;
}

/** A standard normal draw restricted to [a, b], by inverting the CDF with uniform u in [0, 1). */
export function truncatedStandardNormal(a: number, b: number, u: number): number {
  if (a > 0) return -truncatedStandardNormal(-b, -a, 1 - u);
  const pa = normalCdf(a);
  const pb = normalCdf(b);
  const x = normalQuantile(pa + u * (pb - pa));
  return min(max(x, a), b);
}

/** log(sum(exp(xs))) without overflow; -Infinity for an empty list or all -Infinity. */
export function logSumExp(xs: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < xs.length; i++) if (xs[i]! > m) m = xs[i]!;
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += exp(xs[i]! - m);
  return m + log(s);
}
