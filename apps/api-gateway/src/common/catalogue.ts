import type { FindOptionsOrder, FindOptionsWhere, Repository } from 'typeorm';
import type { Page, PaginationQuery } from '@medfusion/contracts';
import type { Principal } from '@medfusion/domain';
import { assertMayChange, notFound } from '../auth/forbidden.js';
import { page } from './page.js';
import { withoutServerPaths } from './server-paths.js';

interface CatalogueRow {
  id: string;
  createdBy: string;
  createdAt: Date;
}

/**
 * List/get/delete for the shared catalogue (datasets, models): every key reads it, only the
 * owner or an admin deletes. `pathKeys` are the row's server paths, shown to the owner and admins
 * only (withoutServerPaths).
 */
export class Catalogue<T extends CatalogueRow, K extends keyof T = never> {
  constructor(
    private readonly repo: Repository<T>,
    private readonly kind: string,
    private readonly pathKeys: readonly K[] = [],
  ) {}

  async list(q: PaginationQuery, p: Principal): Promise<Page<T | Omit<T, K>>> {
    const [items, total] = await this.repo.findAndCount({
      order: { createdAt: 'DESC', id: 'ASC' } as FindOptionsOrder<T>,
      take: q.limit,
      skip: q.offset,
    });
    return page(
      items.map((row) => this.present(row, p)),
      total,
      q,
    );
  }

  /** The row as `p` may see it. */
  async get(id: string, p: Principal): Promise<T | Omit<T, K>> {
    return this.present(await this.find(id), p);
  }

  protected present(row: T, p: Principal): T | Omit<T, K> {
    return withoutServerPaths(row, this.pathKeys, p, row.createdBy);
  }

  protected async find(id: string): Promise<T> {
    const row = await this.repo.findOneBy({ id } as FindOptionsWhere<T>);
    if (!row) throw notFound(this.kind, id);
    return row;
  }

  async remove(id: string, p: Principal): Promise<T> {
    const row = await this.find(id);
    assertMayChange(p, 'catalogue', this.kind, id, row.createdBy);
    await this.repo.delete({ id } as FindOptionsWhere<T>);
    return row;
  }
}
