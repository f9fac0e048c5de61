import type { Page } from '@medfusion/contracts';

export function page<T>(items: T[], total: number, q: { limit: number; offset: number }): Page<T> {
  return { items, total, limit: q.limit, offset: q.offset };
}
