import type { ValueTransformer } from 'typeorm';

/** pg returns BIGINT as a string to avoid precision loss; file sizes fit a double exactly. */
export const bigintAsNumber: ValueTransformer = {
  to: (v: number | null | undefined) => v,
  from: (v: string | null) => (v === null ? null : Number(v)),
};
