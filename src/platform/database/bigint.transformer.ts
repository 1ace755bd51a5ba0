import type { ValueTransformer } from 'typeorm';

/** BIGINT columns arrive from pg as strings; money and ids are bigint inside the service. */
export const bigintColumn: ValueTransformer = {
  to: (value: bigint | null | undefined) => (value === null || value === undefined ? value : value.toString()),
  from: (value: string | null) => (value === null ? null : BigInt(value)),
};
