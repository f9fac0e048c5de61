import { mayUseFiles, type Principal } from '@medfusion/domain';

/**
 * Where a resource's files lie on the servers (`dataPath`, `modelPath`, `checkpointPath`,
 * `modelConfig.weightsPath`) is shown to admins and the resource's owner only: to anyone else it
 * would map the workers' file systems and name another owner's files. Other readers get the row
 * without those fields.
 */
export function withoutServerPaths<T extends object, K extends keyof T>(row: T, keys: readonly K[], p: Principal, owner: string | null): T | Omit<T, K> {
  if (mayUseFiles(p, owner)) return row;
  const copy = { ...row };
  for (const k of keys) delete copy[k];
  return copy;
}

/** A job's model config without `weightsPath` for readers who may not see server paths. */
export function modelConfigWithoutPath<M extends { weightsPath?: string }>(mc: M, p: Principal, owner: string | null): M {
  if (mayUseFiles(p, owner) || mc.weightsPath === undefined) return mc;
  const { weightsPath: _hidden, ...rest } = mc;
  return rest as M;
}

/** Free-form configs (workflow nodes): every `dataPath` and `weightsPath`, at any depth, removed for such readers. */
export function freeFormWithoutPaths<V>(value: V, p: Principal, owner: string | null): V {
  return mayUseFiles(p, owner) ? value : (strip(value) as V);
}

function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(strip);
  if (typeof value !== 'object' || value === null || value instanceof Date) return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'dataPath' && k !== 'weightsPath').map(([k, v]) => [k, strip(v)]));
}
