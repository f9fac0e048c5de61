import type { FindOptionsOrder, FindOptionsWhere, Repository } from 'typeorm';
import type { Page, PaginationQuery } from '@medfusion/contracts';
import type { Principal } from '@medfusion/domain';
import { assertMayChange, notFound } from '../auth/forbidden.js';
import { page } from './page.js';

interface CatalogueRow {
  id: string;
  createdBy: string;
  createdAt: Date;
}

/**
 * List/get/delete for the shared catalogue (datasets, models): every key reads it, only the
 * owner or an admin deletes.
 */
export class Catalogue<T extends CatalogueRow> {
  constructor(
    private readonly repo: Repository<T>,
    private readonly kind: string,
  ) {}

  async list(q: PaginationQuery): Promise<Page<T>> {
    const [items, total] = await this.repo.findAndCount({
      order: { createdAt: 'DESC', id: 'ASC' } as FindOptionsOrder<T>,
      take: q.limit,
      skip: q.offset,
    });
    return page(items, total, q);
  }

  async get(id: string): Promise<T> {
    const row = await this.repo.findOneBy({ id } as FindOptionsWhere<T>);
    if (!row) throw notFound(this.kind, id);
    return row;
  }

  async remove(id: string, p: Principal): Promise<T> {
    const row = await this.get(id);
    assertMayChange(p, this.kind, id, row.createdBy);
    await this.repo.delete({ id } as FindOptionsWhere<T>);
    return row;
  }
}
