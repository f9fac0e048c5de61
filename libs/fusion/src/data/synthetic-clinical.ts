import type { SeededRandom } from './seeded-random.js';

/**
 * Sixteen clinical columns of the synthetic set. Two are the risk factors the label depends on
 * (`crp`, `ldl`); the other fourteen are distractors, five of them correlated with age.
 */
export const SYNTHETIC_CLINICAL_COLUMNS = [
  'age', 'bmi', 'systolic_bp', 'diastolic_bp', 'heart_rate', 'glucose', 'cholesterol', 'hdl',
  'ldl', 'creatinine', 'crp', 'smoker', 'alcohol_units', 'exercise_hours', 'sleep_hours', 'family_history',
] as const;
export type SyntheticClinicalColumn = (typeof SYNTHETIC_CLINICAL_COLUMNS)[number];

export const SYNTHETIC_RISK_FACTORS = ['crp', 'ldl'] as const satisfies readonly SyntheticClinicalColumn[];

const AGE_RELATED: readonly SyntheticClinicalColumn[] = ['systolic_bp', 'diastolic_bp', 'glucose', 'cholesterol', 'creatinine'];
const AGE_LOADING = 0.5;

/**
 * One patient as standard-normal latent values per column. The risk factors are independent of
 * everything else, so no distractor can stand in for them; age-related columns share 25% of their
 * variance with age, as real vitals do, which gives a model plausible but useless correlations.
 */
export function sampleClinicalLatents(rng: SeededRandom): Record<SyntheticClinicalColumn, number> {
  // Draw order is part of the data set's definition: changing it changes every seed's output.
  const age = rng.normal();
  const z = {} as Record<SyntheticClinicalColumn, number>;
  for (const c of SYNTHETIC_CLINICAL_COLUMNS) z[c] = rng.normal();
  z.age = age;
  for (const c of AGE_RELATED) z[c] = AGE_LOADING * age + Math.sqrt(1 - AGE_LOADING ** 2) * z[c];
  return z;
}

/** Mean, standard deviation and decimals of each continuous column in clinical units. */
const UNITS: Record<Exclude<SyntheticClinicalColumn, 'smoker' | 'family_history'>, [mean: number, sd: number, digits: number]> = {
  age: [58, 12, 0], bmi: [27, 4.5, 1], systolic_bp: [132, 16, 0], diastolic_bp: [82, 10, 0], heart_rate: [72, 11, 0],
  glucose: [5.8, 1.2, 2], cholesterol: [5.2, 1, 2], hdl: [1.4, 0.35, 2], ldl: [3.1, 0.8, 2], creatinine: [85, 18, 0],
  crp: [4, 2.5, 2], alcohol_units: [6, 4, 1], exercise_hours: [3, 2, 1], sleep_hours: [7, 1.1, 1],
};

/**
 * A latent z-score as the CSV shows it: in clinical units, as a user's file would have it, so the
 * loader's standardisation is exercised. Binary columns are 1 for about 27% of patients (z > 0.6).
 * Linear rescaling keeps the risk factors exactly as informative as their latents.
 */
export function formatClinicalValue(column: SyntheticClinicalColumn, z: number): string {
  if (column === 'smoker' || column === 'family_history') return z > 0.6 ? '1' : '0';
  const [mean, sd, digits] = UNITS[column];
  return (mean + sd * z).toFixed(digits);
}

export function isRiskFactor(column: SyntheticClinicalColumn): boolean {
  return (SYNTHETIC_RISK_FACTORS as readonly string[]).includes(column);
}
